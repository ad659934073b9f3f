"""What the Messaging API modules share: the retry key, the monthly quota, dates in Japan time,
user ids and the endpoint decorator that refuses ``X-Line-Retry-Key`` where LINE refuses it."""

from __future__ import annotations

import base64
import re
import secrets
from datetime import date, datetime, timedelta, timezone
from typing import Any

from starlette.responses import JSONResponse, Response

from emulator.endpoints import RETRY_KEY_HEADER, Call
from emulator.errors import Detail, LineError, bad_request
from emulator.state import Channel, RetryRecord, Store, new_message_id
from emulator.validation import QUOTABLE_TYPES

JST = timezone(timedelta(hours=9))
# Requests that count against the monthly quota (replies are free).
COUNTED_ENDPOINTS = ("push", "multicast", "broadcast", "narrowcast")
RETRY_KEY_ACCEPTED = "The retry key is already accepted"
MONTHLY_LIMIT = "You have reached your monthly limit."
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
USER_ID = re.compile(r"^U[0-9a-f]{32}$")
CHAT_ID = re.compile(r"^[UCR][0-9a-f]{32}$")


# --- endpoints ------------------------------------------------------------------------------------


# --- retry keys --------------------------------------------------------------------------------


def retry_key(call: Call) -> str | None:
    """The request's retry key, checked (a UUID in hexadecimal with dashes), or None."""
    key = call.request.headers.get(RETRY_KEY_HEADER)
    if key is None:
        return None
    if not _UUID.match(key.strip()):
        raise bad_request(
            "The value of the X-Line-Retry-Key header is invalid",
            [
                Detail(
                    "Must be a UUID in hexadecimal format (e.g. 123e4567-e89b-12d3-a456-426614174000)",
                    "X-Line-Retry-Key",
                )
            ],
        )
    return key.strip().lower()


def accepted_retry(call: Call, key: str | None) -> Response | None:
    """LINE's 409 when a request with this key was accepted within the key's lifetime."""
    if key is None:
        return None
    store, channel = call.store, call.channel
    record = channel.retry_keys.get(key)
    if record is None:
        return None
    if store.now() - record.accepted_at > store.config.retry_key_ttl:
        del channel.retry_keys[key]  # LINE keeps a key for 24 hours; after that it is new again
        return None
    body: dict[str, Any] = {"message": RETRY_KEY_ACCEPTED}
    if isinstance(record.body, dict) and "sentMessages" in record.body:
        body["sentMessages"] = record.body["sentMessages"]
    call.headers["x-line-accepted-request-id"] = record.request_id
    return JSONResponse(body, status_code=409)


def remember_retry(call: Call, key: str | None, status: int, body: Any) -> None:
    """An accepted request keeps its key (a request refused with 4xx before acceptance does not)."""
    if key is None:
        return
    keys = call.channel.retry_keys
    now = call.store.now()
    keys[key] = RetryRecord(key=key, request_id=call.request_id, accepted_at=now, status=status, body=body)
    if len(keys) % 1024 == 0:  # forget expired keys now and then, not on every request
        ttl = call.store.config.retry_key_ttl
        for stale in [k for k, r in keys.items() if now - r.accepted_at > ttl]:
            del keys[stale]


# --- sent messages -----------------------------------------------------------------------------


def new_quote_token() -> str:
    return secrets.token_urlsafe(48)


def sent_messages(channel: Channel, messages: list[dict[str, Any]], reached: bool) -> list[dict[str, str]]:
    """``sentMessages`` of a reply or push: the ids the user's deliveries got (fresh ids when the
    user received nothing), with a quote token for the types that can be quoted."""
    ids = (
        [s.message_id for s in channel.sendings[-len(messages) :]]
        if reached
        else [new_message_id() for _ in messages]
    )
    result = []
    for message_id, message in zip(ids, messages, strict=True):
        item = {"id": message_id}
        if message.get("type") in QUOTABLE_TYPES:
            item["quoteToken"] = new_quote_token()
        result.append(item)
    return result


# --- quota -----------------------------------------------------------------------------------


def jst(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, JST)


def month_start(timestamp: float) -> float:
    """The start of the (Japan time) month that holds ``timestamp``."""
    moment = jst(timestamp)
    return datetime(moment.year, moment.month, 1, tzinfo=JST).timestamp()


def consumption(store: Store, channel: Channel) -> int:
    """Messages counted this month: one per user reached by a push, multicast, broadcast or
    narrowcast request, however many message objects it held (replies are free)."""
    since = month_start(store.now())
    return sum(
        record.recipients
        for record in channel.requests.values()
        if record.endpoint in COUNTED_ENDPOINTS and record.at >= since
    )


def remaining_quota(store: Store, channel: Channel) -> int | None:
    quota = store.config.monthly_quota
    return None if quota is None else max(0, quota - consumption(store, channel))


def check_quota(store: Store, channel: Channel, recipients: int | list[str]) -> None:
    """429 when sending to ``recipients`` (a count, or user ids of whom only friends count) would
    pass the monthly limit. Free of cost when the quota is unlimited."""
    remaining = remaining_quota(store, channel)
    if remaining is None:
        return
    count = recipients if isinstance(recipients, int) else reachable(channel, recipients)
    if count > remaining:
        raise LineError(429, MONTHLY_LIMIT)


def reachable(channel: Channel, user_ids: list[str]) -> int:
    """How many of these users would receive a message (friends who have not blocked)."""
    return sum(
        1 for user_id in user_ids if (user := channel.users.get(user_id)) is not None and user.is_friend
    )


# --- dates -------------------------------------------------------------------------------------


def parse_day(value: str | None, name: str = "date") -> date:
    """A ``yyyyMMdd`` query parameter (UTC+9)."""
    if value is None or value == "":
        raise bad_request(f"The '{name}' parameter is required", [Detail("May not be empty", name)])
    try:
        if not re.fullmatch(r"\d{8}", value):
            raise ValueError(value)
        return datetime.strptime(value, "%Y%m%d").replace(tzinfo=JST).date()
    except ValueError as exc:
        raise bad_request(
            f"The '{name}' parameter is invalid",
            [Detail("Must be a date in the yyyyMMdd format (UTC+9)", name)],
        ) from exc


def day_bounds(day: date) -> tuple[float, float]:
    """The start and end (exclusive) of a Japan-time day as timestamps."""
    start = datetime(day.year, day.month, day.day, tzinfo=JST)
    return start.timestamp(), (start + timedelta(days=1)).timestamp()


def today(store: Store) -> date:
    return jst(store.now()).date()


def day_status(store: Store, day: date, first_day: date) -> str:
    """``ready`` for days LINE has counted (up to yesterday), ``unready`` for today and later,
    ``out_of_service`` before LINE started counting."""
    if day < first_day:
        return "out_of_service"
    if day >= today(store):
        return "unready"
    return "ready"


# --- continuation tokens -------------------------------------------------------------------------


def encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def decode_token(token: str, name: str = "start") -> int:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        if not raw.startswith("o:"):
            raise ValueError(raw)
        offset = int(raw[2:])
        if offset < 0:
            raise ValueError(raw)
        return offset
    except ValueError as exc:
        raise bad_request(
            f"The '{name}' parameter is invalid", [Detail("Invalid continuation token", name)]
        ) from exc


def parse_limit(value: str | None, default: int, maximum: int, name: str = "limit") -> int:
    if value is None or value == "":
        return default
    try:
        limit = int(value)
    except ValueError:
        limit = 0
    if not 1 <= limit <= maximum:
        raise bad_request(
            f"The '{name}' parameter is invalid", [Detail(f"Must be between 1 and {maximum}", name)]
        )
    return limit
