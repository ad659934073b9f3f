"""Insight (insight.yml): followers, message deliveries per day, interaction statistics of a
broadcast or narrowcast and per aggregation unit, friend demographics.

Deliveries are known to the emulator; what users do with a message (impressions, clicks, plays) is
not simulated, so those numbers are ``null`` — what LINE returns under its privacy threshold.
Rich menu insight (impressions and taps of virtual users) lives in ``richmenu_insight``; its routes
are served from here.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from starlette.routing import BaseRoute, Route

from emulator import richmenu_insight
from emulator.endpoints import Call, line_endpoint
from emulator.errors import Detail, bad_request, invalid_request, not_found
from emulator.messaging_account import sent_on
from emulator.messaging_common import day_bounds, day_status, parse_day, today
from emulator.state import Channel

FOLLOWERS_FIRST_DAY = date(2016, 11, 1)
DELIVERIES_FIRST_DAY = date(2017, 3, 1)
_MEDIA = (
    "mediaPlayed",
    "mediaPlayed25Percent",
    "mediaPlayed50Percent",
    "mediaPlayed75Percent",
    "mediaPlayed100Percent",
    "uniqueMediaPlayed",
    "uniqueMediaPlayed25Percent",
    "uniqueMediaPlayed50Percent",
    "uniqueMediaPlayed75Percent",
    "uniqueMediaPlayed100Percent",
)


@line_endpoint("insight")
async def followers(call: Call) -> dict[str, Any]:
    """Followers as of a Japan-time day (default yesterday), from virtual users' follow times."""
    raw = call.query("date")
    day = parse_day(raw) if raw else today(call.store) - timedelta(days=1)
    status = day_status(call.store, day, FOLLOWERS_FIRST_DAY)
    if status != "ready":
        return {"status": status}
    _, end = day_bounds(day)
    followed = [u for u in call.channel.users.values() if u.followed_at is not None and u.followed_at < end]
    return {
        "status": status,
        "followers": len(followed),
        "targetedReaches": sum(1 for u in followed if u.is_friend),
        "blocks": sum(1 for u in followed if u.has_blocked),
    }


@line_endpoint("insight")
async def message_deliveries(call: Call) -> dict[str, Any]:
    day = parse_day(call.query("date"))
    status = day_status(call.store, day, DELIVERIES_FIRST_DAY)
    if status != "ready":
        return {"status": status}
    counts = {
        name: sent_on(call.channel, name, day)
        for name in ("broadcast", "narrowcast", "push", "multicast", "reply")
    }
    return {
        "status": status,
        "broadcast": counts["broadcast"],
        "targeting": counts["narrowcast"],
        "autoResponse": 0,
        "welcomeResponse": 0,
        "chat": 0,
        "apiBroadcast": counts["broadcast"],
        "apiPush": counts["push"],
        "apiMulticast": counts["multicast"],
        "apiNarrowcast": counts["narrowcast"],
        "apiReply": counts["reply"],
    }


def _urls(node: Any) -> list[str]:
    """URLs a user could open from a message (uri actions, imagemap links), in order."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if (
                key in ("uri", "linkUri")
                and isinstance(value, str)
                and value.startswith(("http://", "https://"))
            ):
                found.append(value)
            else:
                found.extend(_urls(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_urls(item))
    return found


def _statistics(channel: Channel, request_ids: list[str], count: int) -> dict[str, Any]:
    messages: list[dict[str, Any]] = []
    for request_id in request_ids[:1]:
        messages = [s.message for s in channel.request_sendings(request_id)]
    total = max(count, len(messages))
    clicks = [
        {"seq": seq, "url": url, "click": None, "uniqueClick": None, "uniqueClickOfRequest": None}
        for seq, message in enumerate(messages, start=1)
        for url in dict.fromkeys(_urls(message))
    ]
    return {
        "messages": [
            {"seq": seq, "impression": None, **dict.fromkeys(_MEDIA)} for seq in range(1, total + 1)
        ],
        "clicks": clicks,
    }


@line_endpoint("insight")
async def message_event(call: Call) -> dict[str, Any]:
    """Interaction statistics of a broadcast or narrowcast by request id."""
    request_id = call.query("requestId")
    if not request_id:
        raise invalid_request([Detail("May not be empty", "requestId")])
    channel = call.channel
    record = channel.requests.get(request_id)
    job = channel.jobs.get(request_id)
    if record is None and job is None:
        raise not_found()
    if record is not None and record.endpoint not in ("broadcast", "narrowcast"):
        raise bad_request(
            "Statistics are available only for broadcast and narrowcast messages",
            [Detail("Must be the request ID of a broadcast or narrowcast message", "requestId")],
        )
    done = record is not None
    timestamp = int(record.at if record is not None else job.accepted_at if job is not None else 0)
    overview = {
        "requestId": request_id,
        "timestamp": timestamp,
        "delivered": record.recipients if record is not None else None,
        "uniqueImpression": None,
        "uniqueClick": None,
        "uniqueMediaPlayed": None,
        "uniqueMediaPlayed100Percent": None,
    }
    count = record.messages if record is not None else int(job.detail.get("messages", 0)) if job else 0
    return {"overview": overview, **_statistics(channel, [request_id] if done else [], count)}


@line_endpoint("insight")
async def unit_statistics(call: Call) -> dict[str, Any]:
    """Statistics of push and multicast messages sent with one aggregation unit in a period."""
    unit = call.query("customAggregationUnit")
    if not unit:
        raise invalid_request([Detail("May not be empty", "customAggregationUnit")])
    start_day = parse_day(call.query("from"), "from")
    end_day = parse_day(call.query("to"), "to")
    if end_day < start_day or (end_day - start_day).days > 30:
        raise invalid_request([Detail("Must be on or after from and at most 30 days later", "to")])
    start, _ = day_bounds(start_day)
    _, end = day_bounds(end_day)
    records = sorted(
        (r for r in call.channel.requests.values() if r.aggregation_unit == unit and start <= r.at < end),
        key=lambda r: r.at,
    )
    count = max((r.messages for r in records), default=0)
    statistics = _statistics(call.channel, [r.request_id for r in records], count)
    return {
        "overview": {
            "uniqueImpression": None,
            "uniqueClick": None,
            "uniqueMediaPlayed": None,
            "uniqueMediaPlayed100Percent": None,
        },
        **statistics,
    }


@line_endpoint("insight")
async def demographic(call: Call) -> dict[str, Any]:
    """Virtual users have no demographic attributes: LINE's answer when none are available."""
    return {
        "available": False,
        "genders": [],
        "ages": [],
        "areas": [],
        "appTypes": [],
        "subscriptionPeriods": [],
    }


api_routes: list[BaseRoute] = [
    Route("/v2/bot/insight/followers", followers, methods=["GET"]),
    Route("/v2/bot/insight/message/delivery", message_deliveries, methods=["GET"]),
    Route("/v2/bot/insight/message/event", message_event, methods=["GET"]),
    Route("/v2/bot/insight/message/event/aggregation", unit_statistics, methods=["GET"]),
    Route("/v2/bot/insight/demographic", demographic, methods=["GET"]),
    *richmenu_insight.api_routes,
]
