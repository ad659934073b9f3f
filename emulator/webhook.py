"""Webhook delivery: the LINE platform posting events to the bot server.

``dispatch(store, channel, events)`` signs the body with the channel secret
(``X-Line-Signature`` = base64 HMAC-SHA256 of the raw body) and posts it in a
background task, so a user action never waits for the bot. One user's
requests go out one after another, in order; different users' in parallel. Every attempt is
recorded in ``channel.webhook_log``. With ``config.webhook_redelivery`` on, a
delivery that fails (non-2xx, timeout, no connection) is sent again later
with the same ``webhookEventId``s and ``deliveryContext.isRedelivery: true``.

One ``httpx.AsyncClient`` serves each event loop (each running emulator has
its own loop): the app's start-up hook creates it, the shut-down hook drains
pending deliveries and closes it; ``dispatch`` outside the app creates one
lazily.

The webhook endpoint API (get, set, test) lives here too. Deviation from
LINE: besides https URLs, the emulator accepts http URLs on local hosts
(loopback and private addresses, ``localhost``, single-label names such as a
compose service; ``emulator.validation.is_local_host``, which media URLs share), since the bot
under test runs next to it without TLS.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import hmac
import json
import logging
import time
import weakref
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

import httpx
from starlette.requests import Request
from starlette.routing import BaseRoute, Route

from emulator.control import ControlError, channel_of, control
from emulator.endpoints import Call, line_endpoint, store_of
from emulator.errors import Detail, bad_request, invalid_request
from emulator.state import Channel, Store
from emulator.validation import is_local_host

log = logging.getLogger("emulator.webhook")

USER_AGENT = "LineBotWebhook/2.0"
LOG_LIMIT = 2000  # attempts kept per channel
ENDPOINT_MAX_LENGTH = 500
# LINE does not publish its redelivery schedule; these defaults are the emulator's, changeable
# through PUT /control/webhook/redelivery (tests use a few milliseconds).
DEFAULT_REDELIVERY_DELAYS: tuple[float, ...] = (10.0, 60.0, 300.0)


def signature(secret: str, body: bytes) -> str:
    """``X-Line-Signature``: base64 of HMAC-SHA256 over the raw body, keyed by the channel secret."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def encode_body(destination: str, events: list[dict[str, Any]]) -> bytes:
    payload = {"destination": destination, "events": events}
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@dataclass
class Outcome:
    """How one POST to the bot server went."""

    status: int | None  # HTTP status, None when no answer arrived
    reason: str  # HTTP reason phrase, or could_not_connect | request_timeout | unclassified
    detail: str
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass
class Sender:
    """The HTTP client and the running deliveries of one event loop."""

    client: httpx.AsyncClient
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    redelivery_delays: tuple[float, ...] = DEFAULT_REDELIVERY_DELAYS
    in_line: dict[tuple[str, str], asyncio.Event] = field(default_factory=dict)  # last delivery per user

    async def post(self, url: str, secret: str, body: bytes, timeout: float) -> Outcome:
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
            "X-Line-Signature": signature(secret, body),
        }
        started = time.monotonic()

        def elapsed() -> int:
            return int((time.monotonic() - started) * 1000)

        try:
            response = await self.client.post(url, content=body, headers=headers, timeout=timeout)
        except httpx.TimeoutException:
            return Outcome(None, "request_timeout", "Request timeout", elapsed())
        except (httpx.ConnectError, httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            return Outcome(None, "could_not_connect", f"Connection failed: {url} ({exc})", elapsed())
        except httpx.HTTPError as exc:
            return Outcome(None, "unclassified", f"{type(exc).__name__}: {exc}", elapsed())
        try:
            phrase = HTTPStatus(response.status_code).phrase
        except ValueError:
            phrase = response.reason_phrase or "Unknown"
        return Outcome(response.status_code, phrase, str(response.status_code), elapsed())


_senders: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Sender] = weakref.WeakKeyDictionary()


def _new_client() -> httpx.AsyncClient:
    # trust_env=False: proxy variables must not reroute deliveries to a local bot.
    return httpx.AsyncClient(follow_redirects=False, trust_env=False)


def sender() -> Sender:
    """The sender of the running event loop (created on first use outside the app)."""
    loop = asyncio.get_running_loop()
    current = _senders.get(loop)
    if current is None or current.client.is_closed:
        current = Sender(client=_new_client())
        _senders[loop] = current
    return current


async def on_startup(app: Any) -> None:
    loop = asyncio.get_running_loop()
    _senders[loop] = Sender(client=_new_client())


async def on_shutdown(app: Any) -> None:
    loop = asyncio.get_running_loop()
    current = _senders.pop(loop, None)
    if current is None:
        return
    if current.tasks:
        _done, pending = await asyncio.wait(set(current.tasks), timeout=2.0)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
    await current.client.aclose()


async def drain(timeout: float | None = None) -> int:
    """Wait for every pending delivery (redeliveries included); return how many are still running."""
    current = _senders.get(asyncio.get_running_loop())
    if current is None:
        return 0
    deadline = None if timeout is None else time.monotonic() + timeout
    while current.tasks:
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            break
        await asyncio.wait(set(current.tasks), timeout=remaining)
    return len(current.tasks)


def _record(
    store: Store,
    channel: Channel,
    *,
    url: str,
    body: bytes,
    outcome: Outcome,
    redelivery: bool,
    verify: bool = False,
) -> dict[str, Any]:
    payload = json.loads(body)
    entry: dict[str, Any] = {
        "at": store.now(),
        "url": url,
        "body": payload,
        "status": outcome.status,
        "reason": outcome.reason,
        "error": None if outcome.ok or outcome.status is not None else outcome.detail,
        "durationMs": outcome.duration_ms,
        "isRedelivery": redelivery,
        "verify": verify,
        "webhookEventIds": [event.get("webhookEventId") for event in payload["events"]],
    }
    channel.webhook_log.append(entry)
    if len(channel.webhook_log) > LOG_LIMIT:
        del channel.webhook_log[:-LOG_LIMIT]
    return entry


def _as_redelivery(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    again = copy.deepcopy(events)
    for event in again:
        event["deliveryContext"] = {"isRedelivery": True}
    return again


@dataclass
class _Turn:
    """One delivery's place in its user's line: the first attempt waits for the one before."""

    key: tuple[str, str]
    previous: asyncio.Event | None
    done: asyncio.Event


async def _first_attempt(
    current: Sender, store: Store, channel: Channel, url: str, body: bytes, turn: _Turn
) -> Outcome:
    try:
        if turn.previous is not None:
            await turn.previous.wait()
        outcome = await current.post(url, channel.spec.channel_secret, body, store.config.webhook_timeout)
        _record(store, channel, url=url, body=body, outcome=outcome, redelivery=False)
        return outcome
    finally:
        turn.done.set()
        if current.in_line.get(turn.key) is turn.done:
            del current.in_line[turn.key]


async def _deliver(
    store: Store, channel: Channel, url: str, events: list[dict[str, Any]], turn: _Turn
) -> None:
    current = sender()
    secret = channel.spec.channel_secret
    body = encode_body(channel.spec.bot_user_id, events)
    outcome = await _first_attempt(current, store, channel, url, body, turn)
    if outcome.ok or not store.config.webhook_redelivery:
        return
    redelivered = encode_body(channel.spec.bot_user_id, _as_redelivery(events))
    for delay in current.redelivery_delays:
        await asyncio.sleep(delay)
        if store.channels.get(channel.channel_id) is not channel:
            return  # the world was reset meanwhile
        if not store.config.webhook_redelivery or not channel.webhook_active:
            return
        outcome = await current.post(url, secret, redelivered, store.config.webhook_timeout)
        _record(store, channel, url=url, body=redelivered, outcome=outcome, redelivery=True)
        if outcome.ok:
            return
    log.info("webhook redelivery to %s gave up after %d attempts", url, len(current.redelivery_delays))


async def dispatch(store: Store, channel: Channel, events: list[dict[str, Any]]) -> None:
    """Post ``events`` to the channel's webhook in the background (nothing when unset or inactive)."""
    url = channel.webhook_url
    if not url or not channel.webhook_active or not events:
        return
    current = sender()
    # One user's events reach the bot in the order they happened (first attempts only:
    # redeliveries come later, and LINE warns their order may change); users run in parallel.
    key = (channel.channel_id, str(events[0].get("source", {}).get("userId", "")))
    turn = _Turn(key=key, previous=current.in_line.get(key), done=asyncio.Event())
    current.in_line[key] = turn.done
    task = asyncio.create_task(_deliver(store, channel, url, list(events), turn), name="webhook-delivery")
    current.tasks.add(task)

    def finished(done: asyncio.Task[None]) -> None:
        current.tasks.discard(done)
        if not done.cancelled() and done.exception() is not None:
            log.error("webhook delivery failed", exc_info=done.exception())

    task.add_done_callback(finished)


async def verify(store: Store, channel: Channel, url: str) -> tuple[Outcome, float]:
    """LINE's "Verify": post ``"events": []`` now and wait for the answer."""
    at = store.now()
    body = encode_body(channel.spec.bot_user_id, [])
    outcome = await sender().post(url, channel.spec.channel_secret, body, store.config.webhook_timeout)
    _record(store, channel, url=url, body=body, outcome=outcome, redelivery=False, verify=True)
    return outcome, at


# --- webhook endpoint API (api host) ---------------------------------------------


def endpoint_problem(url: str) -> str | None:
    """Why LINE (with the emulator's local-http allowance) would refuse this webhook URL."""
    if len(url) > ENDPOINT_MAX_LENGTH:
        return f"size must be between 0 and {ENDPOINT_MAX_LENGTH}"
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not host or parts.scheme not in ("https", "http"):
        return "must be a valid URL"
    if parts.scheme == "http" and not is_local_host(host):
        return "must be an HTTPS URL"
    return None


@line_endpoint("webhook.get")
async def get_endpoint(call: Call) -> dict[str, Any]:
    channel = call.channel
    return {"endpoint": channel.webhook_url, "active": bool(channel.webhook_url) and channel.webhook_active}


@line_endpoint("webhook.set")
async def set_endpoint(call: Call) -> dict[str, Any]:
    data = await call.json_object()
    endpoint = data.get("endpoint")
    if not isinstance(endpoint, str):
        raise invalid_request([Detail("must be specified", "endpoint")])
    problem = endpoint_problem(endpoint)
    if problem:
        raise invalid_request([Detail(problem, "endpoint")])
    call.channel.webhook_url = endpoint
    return {}


@line_endpoint("webhook.test")
async def test_endpoint(call: Call) -> dict[str, Any]:
    raw = await call.body()
    data = await call.json_object() if raw.strip() else {}
    endpoint = data.get("endpoint")
    if endpoint is not None:
        if not isinstance(endpoint, str):
            raise invalid_request([Detail("must be a string", "endpoint")])
        problem = endpoint_problem(endpoint)
        if problem:
            raise invalid_request([Detail(problem, "endpoint")])
    url = endpoint or call.channel.webhook_url
    if not url:
        raise bad_request("The webhook endpoint URL is not set")
    outcome, at = await verify(call.store, call.channel, url)
    stamp = datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {
        "success": outcome.ok,
        "timestamp": stamp,
        "statusCode": outcome.status if outcome.status is not None else 0,
        "reason": outcome.reason,
        "detail": outcome.detail,
    }


api_routes: list[BaseRoute] = [
    Route("/v2/bot/channel/webhook/endpoint", get_endpoint, methods=["GET"]),
    Route("/v2/bot/channel/webhook/endpoint", set_endpoint, methods=["PUT"]),
    Route("/v2/bot/channel/webhook/test", test_endpoint, methods=["POST"]),
]


# --- control API ---------------------------------------------------------------------


@control
async def drain_route(request: Request) -> dict[str, Any]:
    """Wait for pending deliveries; body ``{"timeout": seconds}`` (default 30)."""
    raw = await request.body()
    data = json.loads(raw) if raw.strip() else {}
    if not isinstance(data, dict):
        raise ControlError(400, "JSON オブジェクトを送ってください。")
    timeout = float(data.get("timeout", 30.0))
    pending = await drain(timeout)
    return {"pending": pending}


@control
async def redelivery_route(request: Request) -> dict[str, Any]:
    """GET/PUT the redelivery schedule: ``{"delays": [seconds, ...]}`` (on/off is in /control/settings)."""
    current = sender()
    if request.method == "PUT":
        data = json.loads(await request.body() or b"{}")
        if not isinstance(data, dict) or not isinstance(data.get("delays"), list):
            raise ControlError(400, "delays（秒の配列）を指定してください。")
        delays = tuple(float(value) for value in data["delays"])
        if any(value < 0 for value in delays) or len(delays) > 100:
            raise ControlError(400, "delays は 0 以上の秒数を 100 個までで指定してください。")
        current.redelivery_delays = delays
    return {
        "enabled": store_of(request).config.webhook_redelivery,
        "delays": list(current.redelivery_delays),
    }


@control
async def webhook_log_route(request: Request) -> dict[str, Any]:
    """GET: the attempts, oldest first (``?limit=``). DELETE: forget them."""
    channel = channel_of(request)
    if request.method == "DELETE":
        channel.webhook_log.clear()
        return {"total": 0, "attempts": []}
    limit = int(request.query_params.get("limit", str(LOG_LIMIT)))
    attempts = channel.webhook_log[-limit:] if limit > 0 else []
    return {"total": len(channel.webhook_log), "attempts": attempts}


control_routes: list[BaseRoute] = [
    Route("/webhook/drain", drain_route, methods=["POST"]),
    Route("/webhook/redelivery", redelivery_route, methods=["GET", "PUT"]),
    Route("/channels/{channel_id}/webhook-log", webhook_log_route, methods=["GET", "DELETE"]),
]
