"""LINE Login identity for LIFF apps: access tokens, ID tokens and the endpoints that check them.

Opening a LIFF app (``emulator.liff_pages``) issues a LINE Login access token
(opaque, kept in ``Channel.login_tokens``, valid 12 hours as LIFF's are) and,
when the app has the ``openid`` scope, an ID token: a JWT signed HS256 with the
Login channel secret, valid one hour, with LINE's claims (``iss``
``https://access.line.me``, ``sub``, ``aud`` = Login channel id, ``exp``,
``iat``, ``amr: ["linesso"]``, and ``name``/``picture`` with the ``profile``
scope). All times come from ``store.now()``.

Endpoints on the api host, as LINE Login answers them (these are not Messaging
API endpoints: they take the Login access token or no token, never the
channel access token):

- ``POST /oauth2/v2.1/verify`` (form ``id_token``, ``client_id``, ``nonce``,
  ``user_id``) → the claims, or 400 ``{"error": "invalid_request",
  "error_description": "Invalid IdToken." | "Invalid IdToken Issuer." |
  "IdToken expired." | "Invalid IdToken Audience." | "Invalid IdToken Nonce." |
  "Invalid IdToken Subject Identifier."}``
- ``GET /oauth2/v2.1/verify?access_token=`` → ``scope``, ``client_id``,
  ``expires_in``, or 400 ``access token expired``
- ``POST /oauth2/v2.1/revoke`` (form ``access_token``, ``client_id``)
- ``GET /v2/profile`` and ``GET /friendship/v1/status`` (Bearer Login token)
- ``POST /message/v3/share`` (Bearer Login token): what ``liff.sendMessages()``
  calls; the user sends the messages to the chat the LIFF app was opened from.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib
import inspect
import json
import secrets
from types import ModuleType
from typing import Any
from urllib.parse import parse_qsl

from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from emulator.control import ControlError
from emulator.endpoints import Call, line_endpoint
from emulator.errors import Detail, LineError, invalid_request, unauthorized
from emulator.liff_registry import app_settings
from emulator.state import Channel, LoginToken, Store, UserMessage, VirtualUser

ISSUER = "https://access.line.me"
ACCESS_TOKEN_TTL = 12 * 3600.0  # "The access token is valid for 12 hours after being issued."
ID_TOKEN_TTL = 3600.0  # LINE ID tokens: exp = iat + 1 hour
NO_PERMISSION = "user doesn't grant required permissions yet"  # liff.sendMessages() outside a chat
# How the access-token verify endpoint lists scopes (LINE leaves out email even when granted).
_SCOPE_ORDER = ("profile", "openid", "chat_message.write")


# --- JWT ---------------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def sign_jwt(payload: dict[str, Any], secret: str) -> str:
    """An HS256 JWT, as LINE Login issues ID tokens for web login."""
    signing_input = b64url(_json_bytes({"typ": "JWT", "alg": "HS256"})) + "." + b64url(_json_bytes(payload))
    signature = hmac.new(secret.encode("utf-8"), signing_input.encode("ascii"), hashlib.sha256).digest()
    return signing_input + "." + b64url(signature)


def decode_jwt(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    """Header, payload, signing input and signature of a JWT; ValueError when malformed."""
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("a JWT has three parts")
    try:
        header = json.loads(b64url_decode(parts[0]))
        payload = json.loads(b64url_decode(parts[1]))
        signature = b64url_decode(parts[2])
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(str(exc)) from exc
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise ValueError("header and payload must be JSON objects")
    return header, payload, f"{parts[0]}.{parts[1]}".encode("ascii"), signature


# --- issuing -----------------------------------------------------------------------


def login_channel(store: Store, login_channel_id: str) -> Channel | None:
    for channel in store.channels.values():
        if channel.spec.login_channel_id == login_channel_id:
            return channel
    return None


def id_token_claims(
    channel: Channel, user: VirtualUser, scope: list[str], now: float, nonce: str | None = None
) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": user.user_id,
        "aud": channel.spec.login_channel_id,
        "exp": int(now + ID_TOKEN_TTL),
        "iat": int(now),
        "amr": ["linesso"],
    }
    if nonce:
        claims["nonce"] = nonce
    if "profile" in scope:
        claims["name"] = user.display_name
        if user.picture_url:
            claims["picture"] = user.picture_url
    return claims


def issue_login(
    store: Store,
    channel: Channel,
    user: VirtualUser,
    liff_id: str,
    *,
    context_type: str,
    nonce: str | None = None,
) -> tuple[LoginToken, str | None]:
    """A Login access token for the user in this LIFF app, and an ID token with the openid scope."""
    now = store.now()
    for key in [k for k, t in channel.login_tokens.items() if t.expires_at <= now]:
        del channel.login_tokens[key]
    scope = app_settings(channel, liff_id)["scope"]
    token = LoginToken(
        token=secrets.token_urlsafe(48),
        user_id=user.user_id,
        liff_id=liff_id,
        scope=scope,
        issued_at=now,
        expires_at=now + ACCESS_TOKEN_TTL,
        context_type=context_type,
    )
    channel.login_tokens[token.token] = token
    id_token = None
    if "openid" in scope:
        id_token = sign_jwt(
            id_token_claims(channel, user, scope, now, nonce), channel.spec.login_channel_secret
        )
    return token, id_token


def access_token_hash(token: str) -> str:
    """``accessTokenHash`` of ``liff.getContext()``: the first half of the token's SHA-256, base64url."""
    digest = hashlib.sha256(token.encode("ascii")).digest()
    return b64url(digest[: len(digest) // 2])


def find_token(store: Store, token: str) -> tuple[Channel, LoginToken] | None:
    for channel in store.channels.values():
        record = channel.login_tokens.get(token)
        if record is not None:
            return channel, record
    return None


def _live_token(store: Store, token: str | None) -> tuple[Channel, LoginToken] | None:
    found = find_token(store, token) if token else None
    if found is None or found[1].expires_at <= store.now():
        return None
    return found


def authenticate_login(call: Call) -> tuple[Channel, LoginToken, VirtualUser]:
    """The Bearer LINE Login access token's channel, record and user; 401 otherwise."""
    scheme, _, token = call.request.headers.get("authorization", "").partition(" ")
    found = _live_token(call.store, token.strip()) if scheme.lower() == "bearer" else None
    if found is None:
        raise unauthorized()
    channel, record = found
    user = channel.users.get(record.user_id)
    if user is None:
        raise unauthorized()
    return channel, record, user


# --- LINE Login endpoints ------------------------------------------------------------


def oauth_error(description: str, status: int = 400, error: str = "invalid_request") -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


async def _form(call: Call) -> dict[str, str]:
    raw = await call.body()
    return dict(parse_qsl(raw.decode("utf-8", errors="replace"), keep_blank_values=True))


def check_id_token(
    store: Store, id_token: str, client_id: str, nonce: str | None = None, user_id: str | None = None
) -> dict[str, Any] | str:
    """The verified claims of an ID token, or LINE's error_description for why it fails."""
    try:
        header, claims, signing_input, signature = decode_jwt(id_token)
    except ValueError:
        return "Invalid IdToken."
    channel = login_channel(store, str(claims.get("aud", "")))
    if header.get("alg") != "HS256" or channel is None:
        return "Invalid IdToken."
    expected = hmac.new(channel.spec.login_channel_secret.encode("utf-8"), signing_input, hashlib.sha256)
    if not hmac.compare_digest(expected.digest(), signature):
        return "Invalid IdToken."
    if claims.get("iss") != ISSUER:
        return "Invalid IdToken Issuer."
    exp = claims.get("exp")
    if not isinstance(exp, (int, float)) or store.now() >= exp:
        return "IdToken expired."
    if str(claims.get("aud")) != client_id:
        return "Invalid IdToken Audience."
    if nonce is not None and claims.get("nonce") != nonce:
        return "Invalid IdToken Nonce."
    if user_id is not None and claims.get("sub") != user_id:
        return "Invalid IdToken Subject Identifier."
    return claims


@line_endpoint("login.verify", auth=False)
async def verify_id_token(call: Call) -> Response | dict[str, Any]:
    form = await _form(call)
    for name in ("id_token", "client_id"):
        if not form.get(name):
            return oauth_error(f"{name} is required")
    result = check_id_token(
        call.store,
        form["id_token"],
        form["client_id"],
        nonce=form.get("nonce") or None,
        user_id=form.get("user_id") or None,
    )
    return oauth_error(result) if isinstance(result, str) else result


@line_endpoint("login.verify", auth=False)
async def verify_access_token(call: Call) -> Response | dict[str, Any]:
    token = call.query("access_token")
    if not token:
        return oauth_error("access_token is required")
    found = _live_token(call.store, token)
    if found is None:
        return oauth_error("access token expired")
    channel, record = found
    return {
        "scope": " ".join(s for s in _SCOPE_ORDER if s in record.scope),
        "client_id": channel.spec.login_channel_id,
        "expires_in": int(record.expires_at - call.store.now()),
    }


@line_endpoint("login.revoke", auth=False)
async def revoke(call: Call) -> Response:
    form = await _form(call)
    for name in ("access_token", "client_id"):
        if not form.get(name):
            return oauth_error(f"{name} is required")
    found = find_token(call.store, form["access_token"])
    if found is not None:
        channel, record = found
        if channel.spec.login_channel_id != form["client_id"]:
            return oauth_error("invalid client_id", error="invalid_client")
        del channel.login_tokens[record.token]
    return Response(status_code=200)


def _require_scope(record: LoginToken, scope: str) -> None:
    if scope not in record.scope:
        raise LineError(403, "Access to this API denied due to authorization error")


@line_endpoint("login.profile", auth=False)
async def profile(call: Call) -> dict[str, Any]:
    _channel, record, user = authenticate_login(call)
    _require_scope(record, "profile")
    result = {"userId": user.user_id, "displayName": user.display_name}
    if user.picture_url:
        result["pictureUrl"] = user.picture_url
    if user.status_message:
        result["statusMessage"] = user.status_message
    return result


@line_endpoint("login.friendship", auth=False)
async def friendship(call: Call) -> dict[str, Any]:
    _channel, record, user = authenticate_login(call)
    _require_scope(record, "profile")
    return {"friendFlag": user.is_friend and not user.has_blocked}


# --- liff.sendMessages() -----------------------------------------------------------

LIFF_MESSAGE_TYPES = ("text", "sticker", "image", "video", "audio", "location", "template", "flex")
_REQUIRED = {
    "text": ("text",),
    "sticker": ("packageId", "stickerId"),
    "image": ("originalContentUrl", "previewImageUrl"),
    "video": ("originalContentUrl", "previewImageUrl"),
    "audio": ("originalContentUrl", "duration"),
    "location": ("title", "address", "latitude", "longitude"),
    "template": ("altText", "template"),
    "flex": ("altText", "contents"),
}
_NOT_AVAILABLE = {"text": ("emojis", "quoteToken"), "sticker": ("quoteToken",), "video": ("trackingId",)}


def _non_uri_actions(value: Any, path: str) -> list[str]:
    """Paths of actions other than URI actions inside a template or Flex message."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("action", "defaultAction") and isinstance(item, dict) and item.get("type") != "uri":
                found.append(f"{path}.{key}")
            found.extend(_non_uri_actions(item, f"{path}.{key}"))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if path.endswith(".actions") and isinstance(item, dict) and item.get("type") != "uri":
                found.append(f"{path}[{index}]")
            found.extend(_non_uri_actions(item, f"{path}[{index}]"))
    return found


def validate_liff_messages(messages: Any) -> list[dict[str, Any]]:
    """The message objects ``liff.sendMessages()`` accepts: 1 to 5, of the allowed kinds."""
    if not isinstance(messages, list) or not messages:
        raise invalid_request([Detail("must be specified", "messages")])
    if len(messages) > 5:
        raise invalid_request([Detail("Size must be between 1 and 5", "messages")])
    problems: list[Detail] = []
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        kind = message.get("type") if isinstance(message, dict) else None
        if not isinstance(message, dict) or kind not in LIFF_MESSAGE_TYPES:
            problems.append(Detail(f"must be one of {', '.join(LIFF_MESSAGE_TYPES)}", f"{where}.type"))
            continue
        problems += [Detail("must be specified", f"{where}.{f}") for f in _REQUIRED[kind] if f not in message]
        problems += [
            Detail("not available", f"{where}.{f}") for f in _NOT_AVAILABLE.get(kind, ()) if f in message
        ]
        text = message.get("text")
        if kind == "text" and (not isinstance(text, str) or not 1 <= len(text) <= 5000):
            problems.append(Detail("Length must be between 1 and 5000", f"{where}.text"))
        for key in ("originalContentUrl", "previewImageUrl"):
            url = message.get(key)
            if key in message and (not isinstance(url, str) or not url.startswith("https://")):
                problems.append(Detail("must be an https URL", f"{where}.{key}"))
        if kind in ("template", "flex"):
            alt = message.get("altText")
            if not isinstance(alt, str) or not 1 <= len(alt) <= 400:
                problems.append(Detail("Length must be between 1 and 400", f"{where}.altText"))
            for path in _non_uri_actions(message, where):
                problems.append(Detail("Only URI actions can be used", path))
    if problems:
        raise invalid_request(problems)
    return messages


def as_sent_by_user(message: dict[str, Any]) -> dict[str, Any]:
    """A message object as the user's chat (and webhook) carries it: media sent with
    ``liff.sendMessages()`` come from an external provider (``contentProvider.type`` external)."""
    if message["type"] in ("image", "video", "audio"):
        provider = {"type": "external", "originalContentUrl": message["originalContentUrl"]}
        if "previewImageUrl" in message:
            provider["previewImageUrl"] = message["previewImageUrl"]
        sent = {k: v for k, v in message.items() if k not in ("originalContentUrl", "previewImageUrl")}
        return {**sent, "contentProvider": provider}
    return dict(message)


def _events() -> ModuleType | None:
    try:
        return importlib.import_module("emulator.events")
    except ModuleNotFoundError as exc:
        if exc.name != "emulator.events":
            raise
        return None


@line_endpoint("liff.sendMessages", auth=False)
async def share(call: Call) -> dict[str, Any]:
    channel, record, user = authenticate_login(call)
    if record.context_type != "utou" or "chat_message.write" not in record.scope:
        raise LineError(403, NO_PERMISSION)
    messages = validate_liff_messages((await call.json_object()).get("messages"))
    events = _events()
    user_sends = getattr(events, "user_sends", None)
    # LINE sends no webhook for template and Flex messages a user sends this way; the rest do.
    if user_sends is None and any(m["type"] not in ("template", "flex") for m in messages):
        raise LineError(500, "emulator.events.user_sends is not available: user messages cannot be sent")
    for message in messages:
        sent = as_sent_by_user(message)
        if message["type"] in ("template", "flex"):
            channel.user_messages.append(
                UserMessage(user_id=user.user_id, message=sent, sent_at=call.store.now())
            )
            continue
        assert user_sends is not None
        try:
            result = user_sends(call.store, channel, user, sent)
            if inspect.isawaitable(result):
                await result
        except ControlError as exc:  # e.g. the user is not a friend, or has blocked the account
            raise LineError(exc.status, exc.message) from exc
    return {}


api_routes = [
    Route("/oauth2/v2.1/verify", verify_id_token, methods=["POST"]),
    Route("/oauth2/v2.1/verify", verify_access_token, methods=["GET"]),
    Route("/oauth2/v2.1/revoke", revoke, methods=["POST"]),
    Route("/v2/profile", profile, methods=["GET"]),
    Route("/friendship/v1/status", friendship, methods=["GET"]),
    Route("/message/v3/share", share, methods=["POST"]),
]
