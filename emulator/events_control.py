"""Control routes of the virtual users' actions (logic in emulator.events).

``POST /control/channels/{channel_id}/users/{user_id}/<action>`` for follow,
block, unblock, unfriend (or delete), message, postback, perform (any action
object, e.g. a button in a received message) and tap (the rich menu); ``GET
.../sent`` for what the user sent and ``GET /control/channels/{channel_id}/contents/{message_id}``
for the bytes of an image a user sent.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import asdict
from email import message_from_bytes
from email.message import Message
from email.policy import HTTP
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from emulator.control import ControlError, channel_of, control, user_of
from emulator.endpoints import store_of
from emulator.events import block, follow, perform, postback, send, tap, unblock, unfriend
from emulator.state import Channel, Store, VirtualUser


def _params(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ControlError(400, "params は文字列の値を持つオブジェクトで指定してください。")
    return {str(k): v for k, v in value.items()}


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    data = await request.json()
    if not isinstance(data, dict):
        raise ControlError(400, "JSON オブジェクトを送ってください。")
    return data


def _who(request: Request) -> tuple[Store, Channel, VirtualUser]:
    channel = channel_of(request)
    return store_of(request), channel, user_of(request, channel)


def _form_parts(content_type: str, raw: bytes) -> dict[str, Message]:
    """multipart/form-data fields by name (the standard library's MIME parser, no extra package)."""
    parsed = message_from_bytes(f"Content-Type: {content_type}\r\n\r\n".encode("latin-1") + raw, policy=HTTP)
    if not parsed.is_multipart():
        raise ControlError(400, "multipart/form-data を読み取れません。")
    parts: dict[str, Message] = {}
    for part in parsed.walk():
        if part.is_multipart():
            continue
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str):
            parts[name] = part
    return parts


def _text_field(part: Message | None, default: str) -> str:
    if part is None:
        return default
    payload = part.get_payload(decode=True)
    return payload.decode("utf-8").strip() if isinstance(payload, bytes) else default


async def _incoming_message(request: Request) -> tuple[dict[str, Any], bytes | None, str | None]:
    """The message body of POST .../message: JSON, an image body, or a multipart upload."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("image/"):
        return {"type": "image"}, await request.body(), content_type.split(";")[0].strip()
    if content_type.startswith("multipart/form-data"):
        parts = _form_parts(content_type, await request.body())
        upload = parts.get("file")
        if upload is None:
            raise ControlError(400, "file フィールドに画像を入れてください。")
        data = upload.get_payload(decode=True)
        kind = _text_field(parts.get("type"), "image")
        return {"type": kind}, data if isinstance(data, bytes) else None, upload.get_content_type()
    body = await _body(request)
    if body.get("type") == "image":
        try:
            data = base64.b64decode(str(body.get("data", "")), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ControlError(400, "data は base64 で指定してください。") from exc
        return body, data, body.get("contentType")
    return body, None, None


@control
async def follow_route(request: Request) -> dict[str, Any]:
    return (await follow(*_who(request))).to_json()


@control
async def block_route(request: Request) -> dict[str, Any]:
    return (await block(*_who(request))).to_json()


@control
async def unblock_route(request: Request) -> dict[str, Any]:
    return (await unblock(*_who(request))).to_json()


@control
async def unfriend_route(request: Request) -> dict[str, Any]:
    return (await unfriend(*_who(request))).to_json()


@control
async def message_route(request: Request) -> dict[str, Any]:
    store, channel, user = _who(request)
    message, content, content_type = await _incoming_message(request)
    return (await send(store, channel, user, message, content, content_type)).to_json()


@control
async def postback_route(request: Request) -> dict[str, Any]:
    store, channel, user = _who(request)
    body = await _body(request)
    display_text = body.get("displayText")
    result = await postback(
        store,
        channel,
        user,
        str(body.get("data", "")),
        _params(body.get("params")),
        str(display_text) if display_text else None,
    )
    return result.to_json()


@control
async def perform_route(request: Request) -> dict[str, Any]:
    """Body ``{"action": {...}, "value": ...}``: a tap on a button or quick reply of a received message."""
    store, channel, user = _who(request)
    body = await _body(request)
    action = body.get("action")
    if not isinstance(action, dict):
        raise ControlError(400, "action（アクションオブジェクト）を指定してください。")
    return (await perform(store, channel, user, action, body.get("value"))).to_json()


def _int_or_none(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
        raise ControlError(400, f"{name} は整数で指定してください。")
    return int(value)


@control
async def tap_route(request: Request) -> dict[str, Any]:
    """Body ``{"x", "y"}`` (menu pixels) or ``{"area": index}``, and ``"value"`` for a datetime picker."""
    store, channel, user = _who(request)
    body = await _body(request)
    result = await tap(
        store,
        channel,
        user,
        x=_int_or_none(body.get("x"), "x"),
        y=_int_or_none(body.get("y"), "y"),
        area=_int_or_none(body.get("area"), "area"),
        value=body.get("value"),
    )
    return result.to_json()


@control
async def sent_route(request: Request) -> dict[str, Any]:
    """What the user sent (or had shown as sent) to the account, oldest first."""
    _store, channel, user = _who(request)
    items = [asdict(m) for m in channel.user_messages if m.user_id == user.user_id]
    return {"count": len(items), "messages": items}


async def content_route(request: Request) -> Response:
    """The bytes of an image a user sent, for the talk screen (same lifetime as on the api-data host)."""
    try:
        channel = channel_of(request)
    except ControlError as exc:
        return JSONResponse({"error": exc.message}, status_code=exc.status)
    item = store_of(request).content(channel, request.path_params["message_id"])
    if item is None:
        return JSONResponse({"error": "コンテンツがないか、保存期間が過ぎています。"}, status_code=404)
    return Response(item.data, media_type=item.content_type)


_U = "/channels/{channel_id}/users/{user_id}"
control_routes: list[BaseRoute] = [
    Route(_U + "/follow", follow_route, methods=["POST"]),
    Route(_U + "/block", block_route, methods=["POST"]),
    Route(_U + "/unblock", unblock_route, methods=["POST"]),
    Route(_U + "/unfriend", unfriend_route, methods=["POST"]),
    Route(_U + "/delete", unfriend_route, methods=["POST"]),
    Route(_U + "/message", message_route, methods=["POST"]),
    Route(_U + "/postback", postback_route, methods=["POST"]),
    Route(_U + "/perform", perform_route, methods=["POST"]),
    Route(_U + "/tap", tap_route, methods=["POST"]),
    Route(_U + "/sent", sent_route, methods=["GET"]),
    Route("/channels/{channel_id}/contents/{message_id}", content_route, methods=["GET"]),
]
