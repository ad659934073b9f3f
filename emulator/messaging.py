"""Messaging API: sending messages (reply, push, multicast, broadcast, narrowcast), narrowcast
progress and validation of message objects.

Accounting goes through ``store.deliver`` (every message per user, with endpoint and request id,
and a RequestRecord). Users who are not friends (never followed, blocked) receive nothing while the
request is still accepted, as on LINE. ``X-Line-Retry-Key`` works on push, multicast, narrowcast
and broadcast (409 with ``x-line-accepted-request-id`` on a repeat) and is refused elsewhere.
The account endpoints (profile, followers, quota, loading), insight and content download live in
``messaging_account``, ``messaging_insight`` and ``messaging_content``; their routes are collected
here because ``emulator.modules`` loads this module.
"""

from __future__ import annotations

import asyncio
import random
import re
from datetime import UTC, datetime
from typing import Any

from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from emulator import messaging_account, messaging_content, messaging_insight
from emulator.endpoints import Call, line_endpoint
from emulator.errors import Detail, bad_request, invalid_request, not_found
from emulator.messaging_common import (
    CHAT_ID,
    USER_ID,
    accepted_retry,
    check_quota,
    remaining_quota,
    remember_retry,
    retry_key,
    sent_messages,
)
from emulator.messaging_narrowcast import plan_narrowcast
from emulator.state import Channel, Job, Store
from emulator.validation import Checker, validate_messages

_UNIT_NAME = re.compile(r"^[a-zA-Z0-9_]{1,30}$")
_tasks: set[asyncio.Task[None]] = set()


def _common(c: Checker, body: dict[str, Any], *, units: bool) -> tuple[bool, str | None]:
    """``notificationDisabled`` and (push, multicast) ``customAggregationUnits``."""
    c.boolean(body, "notificationDisabled", "")
    unit: str | None = None
    if units:
        names = c.array(body, "customAggregationUnits", "", 0, 1, required=False)
        for i, name in enumerate(names or []):
            if not isinstance(name, str) or not _UNIT_NAME.match(name):
                c.add(f"customAggregationUnits[{i}]", "Must match ^[a-zA-Z0-9_]{1,30}$")
            else:
                unit = name
    return bool(body.get("notificationDisabled") is True), unit


def _checker(call: Call) -> Checker:
    """A checker with the emulator's local-http allowance for media URLs when it is on."""
    return Checker(local_http_media=call.store.config.local_http_media)


# --- reply -------------------------------------------------------------------------------------


@line_endpoint("reply")
async def reply(call: Call) -> dict[str, Any]:
    """Reply with the token of a webhook event: single use, expires; free (not counted)."""
    body = await call.json_object()
    c = _checker(call)
    c.string(body, "replyToken", "")
    silent, _ = _common(c, body, units=False)
    messages = validate_messages(body, c)
    token = call.store.take_reply_token(call.channel, body["replyToken"])
    if token is None:
        raise bad_request("Invalid reply token")
    reached = call.store.deliver(
        call.channel,
        user_ids=[token.user_id],
        messages=messages,
        endpoint="reply",
        request_id=call.request_id,
        notification_disabled=silent,
    )
    return {"sentMessages": sent_messages(call.channel, messages, reached > 0)}


# --- push, multicast, broadcast ----------------------------------------------------------------


@line_endpoint("push")
async def push(call: Call) -> Any:
    key = retry_key(call)
    if (conflict := accepted_retry(call, key)) is not None:
        return conflict
    body = await call.json_object()
    c = _checker(call)
    c.string(body, "to", "")
    silent, unit = _common(c, body, units=True)
    messages = validate_messages(body, c)
    to = body["to"]
    if to not in call.channel.users and not CHAT_ID.match(to):
        raise bad_request("The property, 'to', in the request body is invalid (line: -, column: -)")
    check_quota(call.store, call.channel, [to])
    reached = call.store.deliver(
        call.channel,
        user_ids=[to],
        messages=messages,
        endpoint="push",
        request_id=call.request_id,
        notification_disabled=silent,
        aggregation_unit=unit,
    )
    result = {"sentMessages": sent_messages(call.channel, messages, reached > 0)}
    remember_retry(call, key, 200, result)
    return result


@line_endpoint("multicast")
async def multicast(call: Call) -> Any:
    key = retry_key(call)
    if (conflict := accepted_retry(call, key)) is not None:
        return conflict
    body = await call.json_object()
    c = _checker(call)
    to = c.array(body, "to", "", 1, 500)
    for i, user_id in enumerate(to or []):
        if not isinstance(user_id, str) or (user_id not in call.channel.users and not USER_ID.match(user_id)):
            c.add(f"to[{i}]", "Must be a user ID (U followed by 32 hexadecimal digits)")
    silent, unit = _common(c, body, units=True)
    messages = validate_messages(body, c)
    user_ids = list(dict.fromkeys(to or []))
    check_quota(call.store, call.channel, user_ids)
    call.store.deliver(
        call.channel,
        user_ids=user_ids,
        messages=messages,
        endpoint="multicast",
        request_id=call.request_id,
        notification_disabled=silent,
        aggregation_unit=unit,
    )
    remember_retry(call, key, 200, {})
    return {}


@line_endpoint("broadcast")
async def broadcast(call: Call) -> Any:
    key = retry_key(call)
    if (conflict := accepted_retry(call, key)) is not None:
        return conflict
    body = await call.json_object()
    c = _checker(call)
    silent, _ = _common(c, body, units=False)
    messages = validate_messages(body, c)
    friends = [user.user_id for user in call.channel.friends()]
    check_quota(call.store, call.channel, len(friends))
    call.store.deliver(
        call.channel,
        user_ids=friends,
        messages=messages,
        endpoint="broadcast",
        request_id=call.request_id,
        notification_disabled=silent,
    )
    remember_retry(call, key, 200, {})
    return {}


# --- narrowcast ---------------------------------------------------------------------------------


@line_endpoint("narrowcast")
async def narrowcast(call: Call) -> Any:
    """Accepted at once (202); the messages go out in the background, progress by request id."""
    key = retry_key(call)
    if (conflict := accepted_retry(call, key)) is not None:
        return conflict
    body = await call.json_object()
    c = _checker(call)
    silent, _ = _common(c, body, units=False)
    plan = plan_narrowcast(call.store, call.channel, body, c)
    messages = validate_messages(body, c)
    store, channel = call.store, call.channel
    targets = plan.targets
    job = Job(request_id=call.request_id, kind="narrowcast", phase="waiting", accepted_at=store.now())
    remaining = remaining_quota(store, channel)
    if plan.up_to_remaining_quota and remaining is not None and len(targets) > remaining:
        if plan.forbid_partial_delivery:
            job.error_code = 5
            job.failed_description = "Delivery was canceled to avoid delivering to only part of the audience"
        else:
            targets = random.sample(targets, remaining)
    elif not plan.up_to_remaining_quota:
        check_quota(store, channel, len(targets))
    job.target_count = len(targets)
    job.detail = {"messages": len(messages)}
    channel.jobs[job.request_id] = job
    task = asyncio.create_task(_send_narrowcast(store, channel, job, targets, messages, silent))
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)
    remember_retry(call, key, 202, {})
    return JSONResponse({}, status_code=202)


async def _send_narrowcast(
    store: Store, channel: Channel, job: Job, targets: list[str], messages: list[dict[str, Any]], silent: bool
) -> None:
    await asyncio.sleep(0)  # answer the request first, as LINE processes narrowcasts asynchronously
    if job.error_code is not None:
        job.phase = "failed"
        job.completed_at = store.now()
        return
    job.phase = "sending"
    await asyncio.sleep(0)
    reached = store.deliver(
        channel,
        user_ids=targets,
        messages=messages,
        endpoint="narrowcast",
        request_id=job.request_id,
        notification_disabled=silent,
    )
    job.success_count = reached
    job.failure_count = len(targets) - reached
    job.phase = "succeeded"
    job.completed_at = store.now()


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@line_endpoint("progress")
async def narrowcast_progress(call: Call) -> dict[str, Any]:
    request_id = call.query("requestId")
    if not request_id:
        raise invalid_request([Detail("May not be empty", "requestId")])
    job = call.channel.jobs.get(request_id)
    if job is None or job.kind != "narrowcast":
        raise not_found()
    result: dict[str, Any] = {"phase": job.phase, "acceptedTime": _iso(job.accepted_at)}
    if job.phase in ("succeeded", "failed"):
        result["successCount"] = job.success_count
        result["failureCount"] = job.failure_count
        result["targetCount"] = job.target_count
        if job.completed_at is not None:
            result["completedTime"] = _iso(job.completed_at)
    if job.phase == "failed":
        result["errorCode"] = job.error_code
        result["failedDescription"] = job.failed_description
    return result


# --- validation --------------------------------------------------------------------------------


async def _validate(call: Call) -> dict[str, Any]:
    validate_messages(await call.json_object(), _checker(call))
    return {}


validate_endpoints = {
    kind: line_endpoint("validate")(_validate)
    for kind in ("reply", "push", "multicast", "narrowcast", "broadcast")
}


# --- routes ----------------------------------------------------------------------------------

api_routes: list[BaseRoute] = [
    Route("/v2/bot/message/reply", reply, methods=["POST"]),
    Route("/v2/bot/message/push", push, methods=["POST"]),
    Route("/v2/bot/message/multicast", multicast, methods=["POST"]),
    Route("/v2/bot/message/broadcast", broadcast, methods=["POST"]),
    Route("/v2/bot/message/narrowcast", narrowcast, methods=["POST"]),
    Route("/v2/bot/message/progress/narrowcast", narrowcast_progress, methods=["GET"]),
    *[
        Route(f"/v2/bot/message/validate/{kind}", handler, methods=["POST"])
        for kind, handler in validate_endpoints.items()
    ],
    *messaging_account.api_routes,
    *messaging_insight.api_routes,
]
data_routes: list[BaseRoute] = list(messaging_content.data_routes)
control_routes: list[BaseRoute] = list(messaging_account.control_routes)
