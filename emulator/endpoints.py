"""How every Messaging API endpoint is served.

``@line_endpoint("name")`` wraps a handler with what LINE does around every
call: an ``x-line-request-id``, Bearer-token authentication, injected faults,
the per-channel rate limit of that endpoint and LINE's error body. Handlers
take a ``Call`` and return a JSON-able body (``{}`` by default) or a Response.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from emulator.errors import Detail, LineError, bad_request, too_many_requests, unauthorized
from emulator.state import Channel, Fault, Store, new_request_id

Handler = Callable[["Call"], Awaitable[Any]]

RETRY_KEY_HEADER = "x-line-retry-key"
# LINE accepts X-Line-Retry-Key on these endpoints only; anywhere else it is a 400.
RETRY_KEY_ENDPOINTS = frozenset({"push", "multicast", "narrowcast", "broadcast"})


@dataclass
class Call:
    request: Request
    store: Store
    channel: Channel
    request_id: str
    endpoint: str
    headers: dict[str, str] = field(default_factory=dict)  # extra response headers
    _raw: bytes | None = None

    async def body(self) -> bytes:
        if self._raw is None:
            self._raw = await self.request.body()
        return self._raw

    async def json(self) -> Any:
        raw = await self.body()
        if not raw:
            raise bad_request("The request body is empty")
        try:
            return json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise bad_request("The request body could not be parsed as JSON", [Detail(str(exc))]) from exc

    async def json_object(self) -> dict[str, Any]:
        data = await self.json()
        if not isinstance(data, dict):
            raise bad_request("The request body must be a JSON object")
        return data

    def path(self, name: str) -> str:
        return str(self.request.path_params[name])

    def query(self, name: str, default: str | None = None) -> str | None:
        return self.request.query_params.get(name, default)


def store_of(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=headers)


def error_response(error: LineError, request_id: str) -> JSONResponse:
    headers = {"x-line-request-id": request_id, **error.headers}
    return JSONResponse(error.body(), status_code=error.status, headers=headers)


def authenticate(store: Store, request: Request) -> Channel:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise unauthorized()
    channel = store.channel_for_token(token.strip())
    if channel is None:
        raise unauthorized()
    return channel


def check_rate_limit(store: Store, channel: Channel, endpoint: str) -> None:
    if not store.config.rate_limits_enabled:
        return
    limits = store.config.rate_limits
    key = (
        endpoint
        if endpoint in limits
        else endpoint.split(".")[0]
        if endpoint.split(".")[0] in limits
        else "default"
    )
    limit = limits[key]
    now = store.now()
    # A named limit is one window for its endpoints; endpoints on the default limit each count alone.
    window = channel.rate_windows.setdefault(endpoint if key == "default" else key, deque())
    while window and window[0] <= now - limit.seconds:
        window.popleft()
    if len(window) >= limit.count:
        raise too_many_requests()
    window.append(now)


class DropConnection(Exception):
    """Close the client's connection without answering (fault injection)."""


async def drop(request: Request) -> Response:
    """Close the socket under the request; the client sees the connection reset, no answer."""
    send = request.scope.get("emulator.raw_send")
    # uvicorn's send() is bound to the connection's request cycle, which holds the transport.
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        return Response(status_code=502)
    transport.close()
    await asyncio.sleep(0.01)  # let the server notice the disconnect, so nothing more is written
    return Response(status_code=502)


def reject_retry_key(request: Request, endpoint: str) -> None:
    if RETRY_KEY_HEADER in request.headers and endpoint not in RETRY_KEY_ENDPOINTS:
        raise bad_request(
            "The X-Line-Retry-Key header is not supported by this API",
            [
                Detail(
                    "Retry keys are accepted only by push, multicast, narrowcast and broadcast",
                    "X-Line-Retry-Key",
                )
            ],
        )


def fault_for(store: Store, endpoint: str) -> Fault | None:
    return store.faults.get(endpoint) or store.faults.get("*")


async def apply_fault(store: Store, endpoint: str, *, after: bool = False) -> None:
    """Inject the endpoint's fault: before the request is handled, or (``Fault.after``)
    once it has been handled, so the work is done but the client sees a failure."""
    fault = fault_for(store, endpoint)
    if fault is None or fault.after != after:
        return
    if fault.latency_ms:
        await asyncio.sleep(fault.latency_ms / 1000)
    if fault.error_rate and random.random() < fault.error_rate:  # noqa: S311 - simulation, not security
        if fault.timeout:
            await asyncio.sleep(3600)
        if fault.drop:
            raise DropConnection
        raise LineError(fault.status, "Internal server error" if fault.status >= 500 else "Injected error")


def line_endpoint(
    name: str, *, auth: bool = True
) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """Serve ``handler`` as the Messaging API endpoint ``name`` (used for rate limits and faults)."""

    def decorate(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            store = store_of(request)
            request_id = new_request_id()
            try:
                await apply_fault(store, name)
                channel = authenticate(store, request) if auth else store.default_channel()
                reject_retry_key(request, name)
                check_rate_limit(store, channel, name)
                call = Call(
                    request=request, store=store, channel=channel, request_id=request_id, endpoint=name
                )
                result = await handler(call)
                await apply_fault(store, name, after=True)
            except LineError as error:
                return error_response(error, request_id)
            except DropConnection:
                return await drop(request)
            if isinstance(result, Response):
                response = result
            else:
                response = json_response({} if result is None else result)
            response.headers["x-line-request-id"] = request_id
            for key, value in call.headers.items():
                response.headers[key] = value
            return response

        endpoint.__name__ = handler.__name__
        endpoint.__doc__ = handler.__doc__
        return endpoint

    return decorate
