"""What virtual users do, and the webhook events LINE sends the bot for it.

Event objects follow line-openapi/webhook.yml: ``type``, ``mode: "active"``,
``timestamp`` (ms, emulator clock), ``source: {"type": "user", "userId"}``,
``webhookEventId`` (a ULID), ``deliveryContext.isRedelivery`` and a
``replyToken`` for follow, message and postback events (never for unfollow).

Each user action is a typed coroutine (``follow``, ``block``, ``unblock``,
``unfriend``, ``send``/``user_sends``, ``postback``, ``perform``, ``tap``)
with a control route ``POST /control/channels/{channel_id}/users/{user_id}/<action>``
(emulator.events_control).
Actions return at once: delivery runs in the background (emulator.webhook).
Errors a person sees are ``ControlError``s with Japanese messages.
"""

from __future__ import annotations

import re
import secrets
import threading
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

from emulator.control import ControlError
from emulator.richmenu_insight import record_impression, record_tap
from emulator.state import Channel, Store, UserMessage, VirtualUser, new_message_id, new_token

# --- webhookEventId: ULID ----------------------------------------------------------

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_RANDOM_BITS = 80


class UlidGenerator:
    """ULIDs: 48-bit millisecond time + 80 random bits, 26 Crockford base32 characters.

    Within one millisecond the random part is incremented, so ids made in a row sort in
    the order they were made.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_ms = -1
        self._last_random = 0

    def new(self, ms: int) -> str:
        with self._lock:
            if ms == self._last_ms and self._last_random + 1 < 1 << _RANDOM_BITS:
                rand = self._last_random + 1
            else:
                rand = secrets.randbits(_RANDOM_BITS)
            self._last_ms, self._last_random = ms, rand
        value = ((ms & ((1 << 48) - 1)) << _RANDOM_BITS) | rand
        chars = []
        for _ in range(26):
            chars.append(_CROCKFORD[value & 31])
            value >>= 5
        return "".join(reversed(chars))


ULID_PATTERN = re.compile(r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$")
_ulids = UlidGenerator()


def new_webhook_event_id(store: Store) -> str:
    return _ulids.new(int(store.now() * 1000))


# --- event builders ---------------------------------------------------------------------


def base_event(store: Store, event_type: str, user_id: str) -> dict[str, Any]:
    return {
        "type": event_type,
        "mode": "active",
        "timestamp": int(store.now() * 1000),
        "source": {"type": "user", "userId": user_id},
        "webhookEventId": new_webhook_event_id(store),
        "deliveryContext": {"isRedelivery": False},
    }


def _replyable(store: Store, channel: Channel, event_type: str, user_id: str) -> dict[str, Any]:
    event = base_event(store, event_type, user_id)
    return {"replyToken": store.issue_reply_token(channel, user_id), **event}


def follow_event(store: Store, channel: Channel, user_id: str, *, is_unblocked: bool) -> dict[str, Any]:
    event = _replyable(store, channel, "follow", user_id)
    event["follow"] = {"isUnblocked": is_unblocked}
    return event


def unfollow_event(store: Store, user_id: str) -> dict[str, Any]:
    return base_event(store, "unfollow", user_id)


def message_event(store: Store, channel: Channel, user_id: str, content: dict[str, Any]) -> dict[str, Any]:
    event = _replyable(store, channel, "message", user_id)
    event["message"] = content
    return event


def postback_event(
    store: Store, channel: Channel, user_id: str, data: str, params: dict[str, str] | None = None
) -> dict[str, Any]:
    event = _replyable(store, channel, "postback", user_id)
    event["postback"] = {"data": data} if params is None else {"data": data, "params": params}
    return event


# --- results ------------------------------------------------------------------------------


@dataclass
class ActionResult:
    """What one user action produced: the webhook events, the talk-screen messages, UI hints."""

    events: list[dict[str, Any]] = field(default_factory=list)
    user_messages: list[UserMessage] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. {"open": uri} for the simulator

    def to_json(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "userMessages": [asdict(m) for m in self.user_messages],
            **self.extra,
        }


async def _emit(store: Store, channel: Channel, result: ActionResult) -> ActionResult:
    from emulator import webhook  # webhook.py imports this module for its routes

    await webhook.dispatch(store, channel, result.events)
    return result


def _require_friend(user: VirtualUser) -> None:
    if user.has_blocked:
        raise ControlError(400, f"{user.display_name} さんはこのアカウントをブロックしています。")
    if not user.is_friend:
        raise ControlError(400, f"{user.display_name} さんはこのアカウントの友だちではありません。")


# --- friendship -----------------------------------------------------------------------------


async def follow(store: Store, channel: Channel, user: VirtualUser) -> ActionResult:
    """Add the account as a friend (a user who had blocked it unblocks: ``isUnblocked`` true)."""
    if user.is_friend:
        raise ControlError(400, f"{user.display_name} さんはすでに友だちです。")
    unblocked = user.has_blocked
    user.is_friend = True
    user.has_blocked = False
    user.followed_at = store.now()
    event = follow_event(store, channel, user.user_id, is_unblocked=unblocked)
    return await _emit(store, channel, ActionResult(events=[event]))


async def unblock(store: Store, channel: Channel, user: VirtualUser) -> ActionResult:
    if not user.has_blocked:
        raise ControlError(400, f"{user.display_name} さんはこのアカウントをブロックしていません。")
    return await follow(store, channel, user)


async def block(store: Store, channel: Channel, user: VirtualUser) -> ActionResult:
    """Block the account: an unfollow event; the user receives nothing from now on."""
    if not user.is_friend:
        raise ControlError(400, f"{user.display_name} さんは友だちではないのでブロックできません。")
    user.is_friend = False
    user.has_blocked = True
    return await _emit(store, channel, ActionResult(events=[unfollow_event(store, user.user_id)]))


async def unfriend(store: Store, channel: Channel, user: VirtualUser) -> ActionResult:
    """Delete the account from the friend list. A friend's deletion is an unfollow event; a blocked
    user who deletes sends nothing more and, on adding again, follows with ``isUnblocked`` false."""
    if not user.is_friend and not user.has_blocked:
        raise ControlError(400, f"{user.display_name} さんは友だちではありません。")
    was_friend = user.is_friend
    user.is_friend = False
    user.has_blocked = False
    events = [unfollow_event(store, user.user_id)] if was_friend else []
    return await _emit(store, channel, ActionResult(events=events))


# --- messages -------------------------------------------------------------------------------

TEXT_MAX = 10_000  # what the emulator accepts from a virtual user's keyboard
CONTENT_MAX = 20 * 1024 * 1024  # emulator guard on uploaded images
STICKER_RESOURCE_TYPES = {
    "STATIC",
    "ANIMATION",
    "SOUND",
    "ANIMATION_SOUND",
    "POPUP",
    "POPUP_SOUND",
    "CUSTOM",
    "MESSAGE",
    "NAME_TEXT",
    "PER_STICKER_TEXT",
}


def _number(message: dict[str, Any], name: str, low: float, high: float) -> float:
    value = message.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ControlError(400, f"{name} を数値で指定してください。")
    try:
        number = float(value)
    except ValueError as exc:
        raise ControlError(400, f"{name} を数値で指定してください。") from exc
    if not low <= number <= high:
        raise ControlError(400, f"{name} は {low}〜{high} の範囲で指定してください。")
    return number


def _external_provider(message: dict[str, Any]) -> dict[str, str] | None:
    """``contentProvider`` of type external, as a message sent from a LIFF app carries it."""
    provider = message.get("contentProvider")
    if not isinstance(provider, dict) or provider.get("type") != "external":
        return None
    result = {"type": "external"}
    for name in ("originalContentUrl", "previewImageUrl"):
        url = provider.get(name)
        if url is not None:
            if not isinstance(url, str) or not url.startswith("https://"):
                raise ControlError(400, f"{name} は https の URL にしてください。")
            result[name] = url
    if "originalContentUrl" not in result:
        raise ControlError(400, "originalContentUrl を指定してください。")
    return result


def _content_and_record(
    message: dict[str, Any], message_id: str, content: bytes | None, content_type: str | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the event's ``message`` object, what the talk screen keeps) for one user message."""
    kind = message.get("type")
    quote = {"quoteToken": new_token(32)}
    if kind == "text":
        text = message.get("text")
        if not isinstance(text, str) or not text:
            raise ControlError(400, "text を入力してください。")
        if len(text) > TEXT_MAX:
            raise ControlError(400, f"メッセージは {TEXT_MAX} 文字以内にしてください。")
        return {"type": "text", "id": message_id, **quote, "text": text}, {"type": "text", "text": text}
    provider = _external_provider(message)
    if provider is not None and kind in ("image", "video", "audio"):
        # Media sent with liff.sendMessages(): the bot gets the URLs, not bytes on api-data.
        media: dict[str, Any] = {"type": kind, "id": message_id}
        if kind != "audio":
            media.update(quote)
        if kind != "image" and isinstance(message.get("duration"), int):
            media["duration"] = message["duration"]
        media["contentProvider"] = provider
        return media, {"type": kind, **{k: v for k, v in provider.items() if k != "type"}}
    if kind == "image":
        if not content:
            raise ControlError(400, "画像のデータがありません。")
        if not content_type or not content_type.startswith("image/"):
            raise ControlError(400, "画像の形式（contentType: image/jpeg など）を指定してください。")
        if len(content) > CONTENT_MAX:
            raise ControlError(400, "画像が大きすぎます（20MB まで）。")
        event_content = {"type": "image", "id": message_id, **quote, "contentProvider": {"type": "line"}}
        return event_content, {"type": "image", "contentType": content_type, "size": len(content)}
    if kind == "location":
        latitude = _number(message, "latitude", -90, 90)
        longitude = _number(message, "longitude", -180, 180)
        place: dict[str, Any] = {}
        for name in ("title", "address"):
            if message.get(name) is not None:
                place[name] = str(message[name])
        place.update(latitude=latitude, longitude=longitude)
        return {"type": "location", "id": message_id, **place}, {"type": "location", **place}
    if kind == "sticker":
        package_id, sticker_id = message.get("packageId"), message.get("stickerId")
        if package_id in (None, "") or sticker_id in (None, ""):
            raise ControlError(400, "packageId と stickerId を指定してください。")
        resource = str(message.get("stickerResourceType", "STATIC"))
        if resource not in STICKER_RESOURCE_TYPES:
            raise ControlError(400, f"stickerResourceType {resource} はありません。")
        sticker = {"packageId": str(package_id), "stickerId": str(sticker_id)}
        event_content = {
            "type": "sticker",
            "id": message_id,
            **quote,
            **sticker,
            "stickerResourceType": resource,
        }
        return event_content, {"type": "sticker", **sticker}
    raise ControlError(
        400,
        "type は text / image / location / sticker（LIFF からは video / audio も）のいずれかにしてください。",
    )


def _user_message(
    store: Store,
    channel: Channel,
    user: VirtualUser,
    message: dict[str, Any],
    content: bytes | None,
    content_type: str | None,
) -> ActionResult:
    _require_friend(user)
    message_id = new_message_id()
    event_content, shown = _content_and_record(message, message_id, content, content_type)
    if content is not None and event_content["type"] == "image":
        store.store_content(channel, message_id, content, content_type or "application/octet-stream")
    sent = UserMessage(user_id=user.user_id, message=shown, sent_at=store.now(), message_id=message_id)
    channel.user_messages.append(sent)
    event = message_event(store, channel, user.user_id, event_content)
    return ActionResult(events=[event], user_messages=[sent])


async def send(
    store: Store,
    channel: Channel,
    user: VirtualUser,
    message: dict[str, Any],
    content: bytes | None = None,
    content_type: str | None = None,
) -> ActionResult:
    """The user sends one message to the account (only friends can)."""
    return await _emit(store, channel, _user_message(store, channel, user, message, content, content_type))


async def user_sends(
    store: Store,
    channel: Channel,
    user: VirtualUser,
    message: dict[str, Any],
    content: bytes | None = None,
    content_type: str | None = None,
) -> UserMessage:
    """A message sent as the user (e.g. ``liff.sendMessages``): recorded, and a message event posted."""
    result = await send(store, channel, user, message, content, content_type)
    return result.user_messages[0]


def _show(store: Store, channel: Channel, user: VirtualUser, text: str) -> UserMessage:
    """Text shown in the chat as the user's message without a message event (``displayText``)."""
    shown = UserMessage(user_id=user.user_id, message={"type": "text", "text": text}, sent_at=store.now())
    channel.user_messages.append(shown)
    return shown


# --- postbacks and actions --------------------------------------------------------------------


def _postback(
    store: Store,
    channel: Channel,
    user: VirtualUser,
    data: str,
    params: dict[str, str] | None = None,
    display_text: str | None = None,
) -> ActionResult:
    _require_friend(user)
    result = ActionResult()
    if display_text:
        result.user_messages.append(_show(store, channel, user, display_text))
    result.events.append(postback_event(store, channel, user.user_id, data, params))
    return result


async def postback(
    store: Store,
    channel: Channel,
    user: VirtualUser,
    data: str,
    params: dict[str, str] | None = None,
    display_text: str | None = None,
) -> ActionResult:
    """A postback event (``displayText`` is shown in the chat, not sent as a message event)."""
    return await _emit(store, channel, _postback(store, channel, user, data, params, display_text))


_PICKER_FORMATS = {
    "date": (re.compile(r"^\d{4}-\d{2}-\d{2}$"), "YYYY-MM-DD"),
    "time": (re.compile(r"^\d{2}:\d{2}$"), "HH:mm"),
    "datetime": (re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$"), "YYYY-MM-DDTHH:mm"),
}


def picked_value(action: dict[str, Any], value: Any) -> tuple[str, str]:
    """(mode, value) chosen in a datetime picker, checked against its format, ``min`` and ``max``."""
    mode = str(action.get("mode", ""))
    if mode not in _PICKER_FORMATS:
        raise ControlError(400, f"日時選択アクションの mode {mode} が正しくありません。")
    if value is None or value == "":
        raise ControlError(400, "日時選択アクションには選んだ値（value）が必要です。")
    pattern, shape = _PICKER_FORMATS[mode]
    text = str(value).replace("t", "T")  # LINE accepts "t" in limits; events carry "T"
    if not pattern.match(text):
        raise ControlError(400, f"value は {shape} の形式で指定してください。")
    try:
        if mode == "date":
            date.fromisoformat(text)
        elif mode == "time":
            datetime.strptime(text, "%H:%M")
        else:
            datetime.strptime(text, "%Y-%m-%dT%H:%M")
    except ValueError as exc:
        raise ControlError(400, f"value {text} は存在しない日時です。") from exc
    low, high = action.get("min"), action.get("max")
    if (low and text < str(low).replace("t", "T")) or (high and text > str(high).replace("t", "T")):
        raise ControlError(400, f"value は {low or ''}〜{high or ''} の範囲で選んでください。")
    return mode, text


def _act(
    store: Store,
    channel: Channel,
    user: VirtualUser,
    action: dict[str, Any],
    value: Any,
    in_rich_menu: bool,
) -> ActionResult:
    _require_friend(user)
    kind = action.get("type")
    if kind == "postback":
        data = str(action.get("data", ""))
        if action.get("text"):
            # Deprecated ``text``: shown as the user's message and sent to the bot as a message event.
            result = _user_message(
                store, channel, user, {"type": "text", "text": str(action["text"])}, None, None
            )
            result.events.extend(_postback(store, channel, user, data).events)
        else:
            display = action.get("displayText")
            result = _postback(store, channel, user, data, None, str(display) if display else None)
        result.extra.update({k: action[k] for k in ("inputOption", "fillInText") if action.get(k)})
        return result
    if kind == "message":
        return _user_message(
            store, channel, user, {"type": "text", "text": str(action.get("text", ""))}, None, None
        )
    if kind == "uri":
        return ActionResult(extra={"open": str(action.get("uri", ""))})
    if kind == "datetimepicker":
        mode, chosen = picked_value(action, value)
        return _postback(store, channel, user, str(action.get("data", "")), {mode: chosen})
    if kind == "richmenuswitch":
        if not in_rich_menu:
            raise ControlError(400, "リッチメニュー切替アクションはリッチメニューでしか使えません。")
        from emulator.richmenu import switch_by_alias

        alias_id = str(action.get("richMenuAliasId", ""))
        status = switch_by_alias(store, channel, user, alias_id)
        params = {"newRichMenuAliasId": alias_id, "status": status}
        result = _postback(store, channel, user, str(action.get("data", "")), params)
        result.extra["richMenuId"] = channel.menu_for(user.user_id)
        return result
    if kind == "clipboard":
        return ActionResult(extra={"clipboard": str(action.get("clipboardText", ""))})
    if kind in ("camera", "cameraRoll", "location"):
        # The phone opens its camera, photo roll or map; what the user picks is then sent as a message.
        return ActionResult(extra={"pick": kind})
    raise ControlError(400, f"アクション {kind} はこの操作では使えません。")


async def perform(
    store: Store,
    channel: Channel,
    user: VirtualUser,
    action: dict[str, Any],
    value: Any = None,
    *,
    in_rich_menu: bool = False,
) -> ActionResult:
    """Do what LINE does when the user taps a control with ``action`` (rich menu, buttons, quick reply).

    Every event the tap causes goes to the bot in one webhook request, in the order LINE shows them.
    """
    return await _emit(store, channel, _act(store, channel, user, action, value, in_rich_menu))


async def tap(
    store: Store,
    channel: Channel,
    user: VirtualUser,
    *,
    x: int | None = None,
    y: int | None = None,
    area: int | None = None,
    value: Any = None,
) -> ActionResult:
    """A tap on the rich menu the user currently sees, at (x, y) in menu pixels or on area ``area``.

    For rich menu insight the menu counts as shown (an impression, unless already counted today)
    and a tap on an area counts as a click once its action is carried out (emulator.richmenu_insight).
    """
    _require_friend(user)
    menu_id = channel.menu_for(user.user_id)
    if menu_id is None:
        raise ControlError(400, f"{user.display_name} さんにはリッチメニューが表示されていません。")
    menu = channel.rich_menus[menu_id]
    areas = menu.body.get("areas", [])
    if area is None:
        if x is None or y is None:
            raise ControlError(400, "x と y、または area を指定してください。")
        from emulator.richmenu import area_at

        area = area_at(menu, x, y)
        if area is None:
            record_impression(store, channel, user.user_id, menu_id)
            return ActionResult(extra={"area": None, "richMenuId": menu_id})
    if not 0 <= area < len(areas):
        raise ControlError(400, f"area は 0〜{len(areas) - 1} で指定してください。")
    record_impression(store, channel, user.user_id, menu_id)
    result = await perform(store, channel, user, areas[area]["action"], value, in_rich_menu=True)
    record_tap(store, channel, user.user_id, menu_id, area)
    result.extra.setdefault("richMenuId", menu_id)
    result.extra["area"] = area
    return result
