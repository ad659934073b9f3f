"""Messaging API, users and account: profile, follower ids, message quota and consumption, counts
of sent messages per day, aggregation units, and the loading animation.

A control route (``/control/channels/{id}/loading``) tells the simulator which users see a
loading animation right now.
"""

from __future__ import annotations

from datetime import date
from itertools import islice
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from emulator.control import channel_of, control
from emulator.endpoints import Call, line_endpoint, store_of
from emulator.errors import Detail, bad_request, invalid_request, not_found
from emulator.messaging_common import (
    USER_ID,
    consumption,
    day_bounds,
    day_status,
    decode_token,
    encode_token,
    month_start,
    parse_day,
    parse_limit,
)
from emulator.state import Channel, Store

FIRST_COUNTED_DAY = date(2018, 3, 31)  # LINE counts sent messages from March 31, 2018
LOADING_DEFAULT_SECONDS = 20


# --- users ----------------------------------------------------------------------------------------


@line_endpoint("profile")
async def profile(call: Call) -> dict[str, Any]:
    """A friend's profile; 404 for anyone else (unknown, never followed, blocked)."""
    user = call.channel.users.get(call.path("user_id"))
    if user is None or not user.is_friend:
        raise not_found()
    result: dict[str, Any] = {"displayName": user.display_name, "userId": user.user_id}
    if user.picture_url:
        result["pictureUrl"] = user.picture_url
    if user.status_message:
        result["statusMessage"] = user.status_message
    if user.language:
        result["language"] = user.language
    return result


@line_endpoint("followers")
async def followers(call: Call) -> dict[str, Any]:
    """Friends' user ids in the order they were created, ``limit`` (1..1000, default 300) at a time."""
    limit = parse_limit(call.query("limit"), 300, 1000)
    start = call.query("start")
    offset = decode_token(start) if start else 0
    ids: list[str] = []
    position = offset
    users = call.channel.users
    for user in islice(users.values(), offset, None):
        position += 1
        if user.is_friend:
            ids.append(user.user_id)
            if len(ids) == limit:
                break
    result: dict[str, Any] = {"userIds": ids}
    if position < len(users):
        result["next"] = encode_token(position)
    return result


# --- quota and counts ---------------------------------------------------------------------------


@line_endpoint("quota")
async def quota(call: Call) -> dict[str, Any]:
    limit = call.store.config.monthly_quota
    return {"type": "none"} if limit is None else {"type": "limited", "value": limit}


@line_endpoint("quota")
async def quota_consumption(call: Call) -> dict[str, Any]:
    return {"totalUsage": consumption(call.store, call.channel)}


def sent_on(channel: Channel, endpoint: str, day: date) -> int:
    """Messages an endpoint sent on a Japan-time day (one per user reached per request)."""
    start, end = day_bounds(day)
    return sum(
        record.recipients
        for record in channel.requests.values()
        if record.endpoint == endpoint and start <= record.at < end
    )


def _delivery_count(endpoint: str) -> Any:
    @line_endpoint("delivery")
    async def count(call: Call) -> dict[str, Any]:
        day = parse_day(call.query("date"))
        status = day_status(call.store, day, FIRST_COUNTED_DAY)
        if status != "ready":
            return {"status": status}
        return {"status": status, "success": sent_on(call.channel, endpoint, day)}

    count.__name__ = f"sent_{endpoint}_messages"
    return count


# --- aggregation units -----------------------------------------------------------------------------


def units_this_month(store: Store, channel: Channel) -> list[str]:
    """Aggregation unit names used by push or multicast this month, in order of first use."""
    since = month_start(store.now())
    records = sorted((r for r in channel.requests.values() if r.at >= since), key=lambda r: r.at)
    return list(dict.fromkeys(r.aggregation_unit for r in records if r.aggregation_unit))


@line_endpoint("aggregation")
async def aggregation_info(call: Call) -> dict[str, Any]:
    return {"numOfCustomAggregationUnits": len(units_this_month(call.store, call.channel))}


@line_endpoint("aggregation")
async def aggregation_list(call: Call) -> dict[str, Any]:
    limit = parse_limit(call.query("limit"), 100, 100)
    start = call.query("start")
    offset = decode_token(start) if start else 0
    names = units_this_month(call.store, call.channel)
    result: dict[str, Any] = {"customAggregationUnits": names[offset : offset + limit]}
    if offset + limit < len(names):
        result["next"] = encode_token(offset + limit)
    return result


# --- loading animation ----------------------------------------------------------------------------


@line_endpoint("loading")
async def loading_start(call: Call) -> JSONResponse:
    """Show the loading animation in a friend's chat for 5..60 seconds (until a message arrives)."""
    body = await call.json_object()
    details: list[Detail] = []
    chat_id = body.get("chatId")
    if not isinstance(chat_id, str) or not chat_id:
        details.append(Detail("May not be empty", "chatId"))
    seconds = body.get("loadingSeconds", LOADING_DEFAULT_SECONDS)
    if not isinstance(seconds, int) or isinstance(seconds, bool) or not 5 <= seconds <= 60 or seconds % 5:
        details.append(Detail("Must be a multiple of 5 between 5 and 60", "loadingSeconds"))
    if details:
        raise invalid_request(details)
    assert isinstance(chat_id, str)
    user = call.channel.users.get(chat_id)
    if user is None or not user.is_friend:
        reason = "a user ID" if not USER_ID.match(chat_id) and user is None else "a friend of the account"
        raise bad_request("Invalid chat ID", [Detail(f"Must be {reason} (one-on-one chats only)", "chatId")])
    call.channel.loading_until[chat_id] = call.store.now() + seconds
    return JSONResponse({}, status_code=202)


def loading_state(store: Store, channel: Channel) -> dict[str, float]:
    """Users who see the loading animation now, with the seconds it has left."""
    now = store.now()
    for user_id in [u for u, until in channel.loading_until.items() if until <= now]:
        del channel.loading_until[user_id]
    return {user_id: round(until - now, 3) for user_id, until in channel.loading_until.items()}


@control
async def loading_control(request: Request) -> dict[str, Any]:
    """GET: {userId: seconds left} for every chat that shows the loading animation."""
    return {"loading": loading_state(store_of(request), channel_of(request))}


api_routes: list[BaseRoute] = [
    Route("/v2/bot/profile/{user_id}", profile, methods=["GET"]),
    Route("/v2/bot/followers/ids", followers, methods=["GET"]),
    Route("/v2/bot/message/quota", quota, methods=["GET"]),
    Route("/v2/bot/message/quota/consumption", quota_consumption, methods=["GET"]),
    *[
        Route(f"/v2/bot/message/delivery/{endpoint}", _delivery_count(endpoint), methods=["GET"])
        for endpoint in ("reply", "push", "multicast", "broadcast")
    ],
    Route("/v2/bot/message/aggregation/info", aggregation_info, methods=["GET"]),
    Route("/v2/bot/message/aggregation/list", aggregation_list, methods=["GET"]),
    Route("/v2/bot/chat/loading/start", loading_start, methods=["POST"]),
]
control_routes: list[BaseRoute] = [
    Route("/channels/{channel_id}/loading", loading_control, methods=["GET"]),
]
