"""The emulator's world: channels, virtual users, what they received, rich menus, LIFF apps.

Everything lives in memory in one ``Store``; the ASGI app runs on one event
loop, so handlers change it without locks (the lock guards persistence and
callers from other threads such as tests). ``Store.now()`` is the emulator's
clock: tests move it forward instead of sleeping (reply-token expiry, retry
key window, content expiry).
"""

from __future__ import annotations

import base64
import itertools
import json
import secrets
import threading
import time
import uuid
from collections import deque
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from emulator.config import ChannelSpec, EmulatorConfig


def new_user_id() -> str:
    return "U" + secrets.token_hex(16)


def new_request_id() -> str:
    return str(uuid.uuid4())


def new_message_id() -> str:
    # LINE message ids are decimal strings.
    return str(secrets.randbelow(10**17) + 10**17)


def new_token(length: int = 32) -> str:
    return secrets.token_hex(length // 2)


@dataclass
class VirtualUser:
    user_id: str
    display_name: str
    picture_url: str = ""
    status_message: str = ""
    language: str = "ja"
    is_friend: bool = False  # has added the account and not blocked it
    has_blocked: bool = False
    followed_at: float | None = None
    linked_rich_menu_id: str | None = None  # per-user link (API or richmenuswitch tap)
    created_at: float = 0.0

    def __setattr__(self, name: str, value: Any) -> None:
        # Keep the channel's set of friends in step, so sending to 500 users is a set lookup each.
        object.__setattr__(self, name, value)
        if name == "is_friend" and (friends := self.__dict__.get("_friends")) is not None:
            (friends.add if value else friends.discard)(self.user_id)

    def attach(self, friends: set[str]) -> None:
        """Join a channel's friend set (``Channel.friend_ids``)."""
        object.__setattr__(self, "_friends", friends)
        if self.is_friend:
            friends.add(self.user_id)


@dataclass
class Sending:
    """One message object sent by one request, and the users who received it.

    Accounting keeps one record per message object, not per user, so a
    multicast to 500 users costs one record and 500 index entries.
    """

    message: dict[str, Any]
    endpoint: str  # reply | push | multicast | broadcast | narrowcast | liff
    request_id: str
    sent_at: float
    message_id: str
    user_ids: list[str]
    notification_disabled: bool = False
    aggregation_unit: str | None = None


@dataclass
class Delivery:
    """One message object as one user received it (a view of a ``Sending``)."""

    user_id: str
    message: dict[str, Any]
    endpoint: str
    request_id: str
    sent_at: float
    message_id: str
    notification_disabled: bool = False
    aggregation_unit: str | None = None

    @classmethod
    def of(cls, sending: Sending, user_id: str) -> Delivery:
        return cls(
            user_id=user_id,
            message=sending.message,
            endpoint=sending.endpoint,
            request_id=sending.request_id,
            sent_at=sending.sent_at,
            message_id=sending.message_id,
            notification_disabled=sending.notification_disabled,
            aggregation_unit=sending.aggregation_unit,
        )


@dataclass
class UserMessage:
    """Something a virtual user sent to the account (shown in the talk screen)."""

    user_id: str
    message: dict[str, Any]
    sent_at: float
    message_id: str = field(default_factory=new_message_id)


@dataclass
class Content:
    """The bytes of an image (etc.) a user sent, fetched from the api-data host."""

    data: bytes
    content_type: str
    created_at: float


@dataclass
class ReplyToken:
    token: str
    user_id: str
    issued_at: float
    used: bool = False


@dataclass
class RetryRecord:
    key: str
    request_id: str  # the accepted original's x-line-request-id
    accepted_at: float
    status: int
    body: Any


@dataclass
class RequestRecord:
    """A sending request, for insight by request id and delivery counts."""

    request_id: str
    endpoint: str
    at: float
    recipients: int
    messages: int
    aggregation_unit: str | None = None
    first_sending: int = -1  # index of its first Sending in Channel.sendings (-1: nobody reached)


@dataclass
class RichMenu:
    rich_menu_id: str
    body: dict[str, Any]  # the rich menu object as created (size, selected, name, chatBarText, areas)
    created_at: float
    image: bytes | None = None
    image_type: str | None = None


@dataclass
class RichMenuTap:
    """A virtual user's tap on an area of a rich menu: a click of rich menu insight."""

    rich_menu_id: str
    area: int  # index in the menu's ``areas``
    bounds: dict[str, int]  # the area's x, y, width, height when it was tapped
    user_id: str
    at: float


@dataclass
class RichMenuImpression:
    """A rich menu shown to a user (see emulator.richmenu_insight for when one is counted)."""

    rich_menu_id: str
    user_id: str
    at: float


@dataclass
class Alias:
    alias_id: str
    rich_menu_id: str


@dataclass
class Job:
    """An asynchronous operation with progress (narrowcast, bulk link, batch control)."""

    request_id: str
    kind: str
    phase: str  # waiting | ongoing | succeeded | failed
    accepted_at: float
    completed_at: float | None = None
    target_count: int = 0
    success_count: int = 0
    failure_count: int = 0
    error_code: int | None = None
    failed_description: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class LoginToken:
    """A LINE Login access token a virtual user got by opening a LIFF app (see emulator.liff)."""

    token: str
    user_id: str
    liff_id: str
    scope: list[str]
    issued_at: float
    expires_at: float
    context_type: str = "utou"  # utou: opened in the simulator's LIFF browser; external: liff.login()


@dataclass
class Fault:
    """Injected trouble for one endpoint (or "*" for all)."""

    error_rate: float = 0.0  # 0..1 chance of answering ``status``
    status: int = 500
    latency_ms: int = 0
    timeout: bool = False  # hold the request far longer than any client waits
    drop: bool = False  # close the connection without an answer
    after: bool = False  # fail only after the request was carried out (a lost answer)


@dataclass
class Channel:
    spec: ChannelSpec
    access_tokens: set[str] = field(default_factory=set)
    webhook_url: str = ""
    webhook_active: bool = True
    users: dict[str, VirtualUser] = field(default_factory=dict)
    sendings: list[Sending] = field(default_factory=list)
    friend_ids: set[str] = field(default_factory=set)  # kept by VirtualUser.is_friend
    delivery_count: int = 0  # message objects received, summed over users
    user_messages: list[UserMessage] = field(default_factory=list)
    rich_menu_taps: list[RichMenuTap] = field(default_factory=list)  # rich menu insight: clicks
    rich_menu_impressions: list[RichMenuImpression] = field(default_factory=list)
    rich_menu_seen: dict[str, int] = field(default_factory=dict)  # user id -> index of latest impression
    contents: dict[str, Content] = field(default_factory=dict)
    reply_tokens: dict[str, ReplyToken] = field(default_factory=dict)
    retry_keys: dict[str, RetryRecord] = field(default_factory=dict)
    requests: dict[str, RequestRecord] = field(default_factory=dict)
    rich_menus: dict[str, RichMenu] = field(default_factory=dict)
    aliases: dict[str, Alias] = field(default_factory=dict)
    default_rich_menu_id: str | None = None
    jobs: dict[str, Job] = field(default_factory=dict)
    liff_apps: dict[str, str] = field(default_factory=dict)  # LIFF id -> endpoint URL
    liff_app_settings: dict[str, dict[str, Any]] = field(default_factory=dict)  # view type, scope, ...
    login_tokens: dict[str, LoginToken] = field(default_factory=dict)  # LIFF access tokens
    webhook_log: list[dict[str, Any]] = field(default_factory=list)  # what was posted, and the answer
    # user id -> when the loading animation (POST /v2/bot/chat/loading/start) ends; a message ends it
    loading_until: dict[str, float] = field(default_factory=dict)
    rate_windows: dict[str, deque[float]] = field(default_factory=dict)

    @property
    def channel_id(self) -> str:
        return self.spec.channel_id

    def friends(self) -> list[VirtualUser]:
        return [self.users[user_id] for user_id in self.friend_ids]

    def received(self, user_id: str, start: int = 0) -> list[Delivery]:
        """What a user received, oldest first, from ``sendings[start]`` on.

        A scan, not an index: sending stays cheap (a multicast to 500 users is one
        record per message object), and reading is rare.
        """
        return [Delivery.of(s, user_id) for s in self.sendings[start:] if user_id in s.user_ids]

    def received_counts(self) -> dict[str, int]:
        """Message objects received per user."""
        counts: dict[str, int] = {}
        for sending in self.sendings:
            for user_id in sending.user_ids:
                counts[user_id] = counts.get(user_id, 0) + 1
        return counts

    def request_sendings(self, request_id: str) -> list[Sending]:
        """The message objects a request delivered (empty when it reached nobody)."""
        record = self.requests.get(request_id)
        if record is None or record.first_sending < 0:
            return []
        return self.sendings[record.first_sending : record.first_sending + record.messages]

    def latest_deliveries(self, limit: int) -> list[Delivery]:
        """The newest ``limit`` per-user deliveries, oldest first."""
        result: list[Delivery] = []
        for sending in reversed(self.sendings):
            for user_id in reversed(sending.user_ids):
                if len(result) >= limit:
                    return result[::-1]
                result.append(Delivery.of(sending, user_id))
        return result[::-1]

    def menu_for(self, user_id: str) -> str | None:
        """The rich menu a user sees: a per-user link wins over the API default."""
        user = self.users.get(user_id)
        if user is not None and user.linked_rich_menu_id in self.rich_menus:
            return user.linked_rich_menu_id
        return self.default_rich_menu_id if self.default_rich_menu_id in self.rich_menus else None


class Store:
    """All channels, the clock, faults and settings that can change at run time."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.lock = threading.RLock()
        self.clock_offset = 0.0
        self._message_ids = itertools.count(secrets.randbelow(10**17) + 10**17)
        self.faults: dict[str, Fault] = {}
        self.channels: dict[str, Channel] = {}
        self._tokens: dict[str, str] = {}
        for spec in config.channels:
            self.add_channel(spec)

    # --- time ------------------------------------------------------------------
    def now(self) -> float:
        return time.time() + self.clock_offset

    def advance_clock(self, seconds: float) -> float:
        self.clock_offset += seconds
        return self.now()

    # --- channels --------------------------------------------------------------
    def add_channel(self, spec: ChannelSpec) -> Channel:
        channel = Channel(
            spec=spec,
            access_tokens={spec.access_token},
            webhook_url=spec.webhook_url,
            liff_apps=dict(spec.liff_apps),
        )
        self.channels[spec.channel_id] = channel
        self._tokens[spec.access_token] = spec.channel_id
        return channel

    def add_token(self, channel: Channel, token: str) -> None:
        channel.access_tokens.add(token)
        self._tokens[token] = channel.channel_id

    def revoke_token(self, token: str) -> bool:
        channel_id = self._tokens.pop(token, None)
        if channel_id is None:
            return False
        self.channels[channel_id].access_tokens.discard(token)
        return True

    def channel_for_token(self, token: str) -> Channel | None:
        channel_id = self._tokens.get(token)
        return self.channels.get(channel_id) if channel_id else None

    def channel(self, channel_id: str) -> Channel | None:
        return self.channels.get(channel_id)

    def default_channel(self) -> Channel:
        return next(iter(self.channels.values()))

    def reset(self) -> None:
        """Back to the configured channels, with no users, messages or menus."""
        with self.lock:
            self.clock_offset = 0.0
            self.faults.clear()
            self.channels.clear()
            self._tokens.clear()
            for spec in self.config.channels:
                self.add_channel(spec)

    # --- users -----------------------------------------------------------------
    def create_user(
        self,
        channel: Channel,
        *,
        display_name: str,
        user_id: str | None = None,
        language: str = "ja",
        picture_url: str = "",
        status_message: str = "",
    ) -> VirtualUser:
        user = VirtualUser(
            user_id=user_id or new_user_id(),
            display_name=display_name,
            language=language,
            picture_url=picture_url,
            status_message=status_message,
            created_at=self.now(),
        )
        user.attach(channel.friend_ids)
        channel.users[user.user_id] = user
        return user

    def message_id(self) -> str:
        """A new message id (LINE's are decimal strings)."""
        return str(next(self._message_ids))

    def deliver(
        self,
        channel: Channel,
        *,
        user_ids: list[str],
        messages: list[dict[str, Any]],
        endpoint: str,
        request_id: str,
        notification_disabled: bool = False,
        aggregation_unit: str | None = None,
    ) -> int:
        """Record messages as received by every user who is a friend; return how many users got them."""
        now = self.now()
        friends = channel.friend_ids
        # Blocked or not a friend: LINE accepts the request and delivers nothing.
        reached = [user_id for user_id in user_ids if user_id in friends]
        record = RequestRecord(
            request_id=request_id,
            endpoint=endpoint,
            at=now,
            recipients=len(reached),
            messages=len(messages),
            aggregation_unit=aggregation_unit,
        )
        channel.requests[request_id] = record
        if not reached:
            return 0
        record.first_sending = len(channel.sendings)
        for message in messages:
            channel.sendings.append(
                Sending(
                    message=message,
                    endpoint=endpoint,
                    request_id=request_id,
                    sent_at=now,
                    message_id=self.message_id(),
                    user_ids=reached,
                    notification_disabled=notification_disabled,
                    aggregation_unit=aggregation_unit,
                )
            )
        channel.delivery_count += len(reached) * len(messages)
        if channel.loading_until:
            for user_id in reached:
                channel.loading_until.pop(user_id, None)
        return len(reached)

    # --- reply tokens and content ----------------------------------------------
    def issue_reply_token(self, channel: Channel, user_id: str) -> str:
        """A new reply token for an event sent to the webhook (single use, expires)."""
        token = new_token(32)
        channel.reply_tokens[token] = ReplyToken(token=token, user_id=user_id, issued_at=self.now())
        return token

    def take_reply_token(self, channel: Channel, token: str) -> ReplyToken | None:
        """Use a reply token once; None when unknown, used or expired (LINE: 400 Invalid reply token)."""
        record = channel.reply_tokens.get(token)
        if record is None or record.used or self.now() - record.issued_at > self.config.reply_token_ttl:
            return None
        record.used = True
        return record

    def store_content(self, channel: Channel, message_id: str, data: bytes, content_type: str) -> None:
        channel.contents[message_id] = Content(data=data, content_type=content_type, created_at=self.now())

    def content(self, channel: Channel, message_id: str) -> Content | None:
        """What a user sent, while LINE still keeps it (``content_ttl``)."""
        item = channel.contents.get(message_id)
        if item is None or self.now() - item.created_at > self.config.content_ttl:
            return None
        return item

    def received(self, channel: Channel, user_id: str) -> list[Delivery]:
        return channel.received(user_id)

    # --- persistence -----------------------------------------------------------
    def save(self, path: Path | None = None) -> None:
        path = path or self.config.state_file
        if path is None:
            return
        with self.lock:
            data = {
                "clock_offset": self.clock_offset,
                "channels": [_dump_channel(c) for c in self.channels.values()],
            }
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        tmp.replace(path)

    def load(self, path: Path | None = None) -> bool:
        path = path or self.config.state_file
        if path is None or not path.exists():
            return False
        data = json.loads(path.read_text(encoding="utf-8"))
        with self.lock:
            self.clock_offset = float(data.get("clock_offset", 0.0))
            self.channels.clear()
            self._tokens.clear()
            for item in data["channels"]:
                channel = _load_channel(item)
                self.channels[channel.channel_id] = channel
                for token in channel.access_tokens:
                    self._tokens[token] = channel.channel_id
        return True


# --- JSON (de)serialisation of channels ------------------------------------------

_BYTES_KEY = "__b64__"


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return {_BYTES_KEY: base64.b64encode(value).decode("ascii")}
    if isinstance(value, set):
        return sorted(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, deque)):
        return [_jsonable(v) for v in value]
    return value


def _unjson(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {_BYTES_KEY}:
            return base64.b64decode(value[_BYTES_KEY])
        return {k: _unjson(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unjson(v) for v in value]
    return value


def _dump_channel(channel: Channel) -> dict[str, Any]:
    data = {
        f.name: getattr(channel, f.name)
        for f in fields(channel)
        if f.name not in ("rate_windows", "friend_ids")
    }
    data["spec"] = asdict(channel.spec)
    for name in (
        "users",
        "reply_tokens",
        "retry_keys",
        "requests",
        "rich_menus",
        "aliases",
        "jobs",
        "contents",
        "login_tokens",
    ):
        data[name] = {k: asdict(v) for k, v in getattr(channel, name).items()}
    data["sendings"] = [asdict(d) for d in channel.sendings]
    data["user_messages"] = [asdict(m) for m in channel.user_messages]
    data["rich_menu_taps"] = [asdict(t) for t in channel.rich_menu_taps]
    data["rich_menu_impressions"] = [asdict(i) for i in channel.rich_menu_impressions]
    result: dict[str, Any] = _jsonable(data)
    return result


_ITEM_TYPES: dict[str, type] = {
    "users": VirtualUser,
    "reply_tokens": ReplyToken,
    "retry_keys": RetryRecord,
    "requests": RequestRecord,
    "rich_menus": RichMenu,
    "aliases": Alias,
    "jobs": Job,
    "contents": Content,
    "login_tokens": LoginToken,
}


def _load_channel(raw: dict[str, Any]) -> Channel:
    data = _unjson(raw)
    channel = Channel(spec=ChannelSpec(**data.pop("spec")))
    for name, kind in _ITEM_TYPES.items():
        setattr(channel, name, {k: kind(**v) for k, v in data.pop(name, {}).items()})
    channel.sendings = [Sending(**d) for d in data.pop("sendings", [])]
    channel.user_messages = [UserMessage(**m) for m in data.pop("user_messages", [])]
    channel.rich_menu_taps = [RichMenuTap(**t) for t in data.pop("rich_menu_taps", [])]
    channel.rich_menu_impressions = [RichMenuImpression(**i) for i in data.pop("rich_menu_impressions", [])]
    channel.access_tokens = set(data.pop("access_tokens", []))
    data.pop("friend_ids", None)  # rebuilt from the users
    for key, value in data.items():
        setattr(channel, key, value)
    for user in channel.users.values():
        user.attach(channel.friend_ids)
    return channel
