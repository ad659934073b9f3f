"""LIFF identity: which resident uses a LIFF page, as LINE vouches for it, kept in the session.

A LIFF page never tells Kairan who its user is. It sends the ID token the LIFF
SDK received from LINE (``liff.getIDToken()``); Kairan asks LINE whether the
token is genuine, unexpired and issued for its own LINE Login channel
(``POST {KAIRAN_LINE_API_BASE}/oauth2/v2.1/verify`` with ``client_id`` = the
Login channel id of LINE連携設定) and only then keeps the token's ``sub`` (the
LINE user id) in the Django session, with an expiry of its own
(``KAIRAN_LIFF_SESSION_MINUTES``). Nothing else the page sends (a ``user_id``
parameter, a token it decoded itself) is ever read.

Server-rendered LIFF pages (views decorated with ``liff_login_required``,
templates extending ``line_channel/liff_base.html``, rendered with
``render_liff``) work like this:

1. without a verified identity the view is not called: the base template is
   rendered in its "identifying" state, whose script
   (``static/line_channel/liff.js``) runs ``liff.init()``, takes the ID token and
   POSTs it, CSRF-protected, to ``liff_session`` (``views_liff.start_session``);
2. that view verifies the token (``verify_id_token``) and stores the identity
   (``remember_line_user``: a new session key every time, as a login does);
3. the page reloads and the view renders its content.

A token of another LINE user replaces the identity and drops the previous
resident's session data (keys starting with ``RESIDENT_SESSION_PREFIX``, where
later LIFF pages keep theirs); a refused token leaves no live identity;
``forget_line_user`` logs the resident out.

The verify endpoint belongs to LINE Login, not to the Messaging API: it takes
a form, no channel access token, and the line-bot-sdk has no call for it. It is
called here with httpx on the same base URL setting the gateway uses, so the
emulator answers it in the demo and tests.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import wraps
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers, patch_cache_control
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

log = logging.getLogger(__name__)

ISSUER = "https://access.line.me"
VERIFY_PATH = "/oauth2/v2.1/verify"
# The session entry of the verified identity: {"user_id": "U…", "expires_at": <epoch seconds>}.
# An expired or refused identity keeps its user id (with expires_at 0): it still says whose the
# resident data below is, so the same resident identifying again finds it.
SESSION_KEY = "kairan_liff"
# Session keys starting with this belong to the identified resident (drafts of later LIFF forms,
# ...): they are dropped when another resident identifies or the resident logs out, so no
# resident ever sees another's.
RESIDENT_SESSION_PREFIX = "kairan_liff_"
# An ID token is a JWT of three base64url parts; LINE's are well under 2 KB.
MAX_TOKEN_LENGTH = 4096
_JWT = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")
BASE_TEMPLATE = "line_channel/liff_base.html"


# --- errors -----------------------------------------------------------------------------------


class LiffAuthError(Exception):
    """The resident could not be identified; ``message`` says so in Japanese, for the page."""

    code: ClassVar[str] = "invalid"
    status: ClassVar[int] = 400
    message: ClassVar[StrOrPromise] = _(
        "LINE の認証を確認できませんでした。LINE のトークやメニューからページを開き直してください。"
    )

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail or self.code)
        self.detail = detail  # for the log (LINE's error_description); never shown to residents


class LiffTokenInvalid(LiffAuthError):
    """Malformed, forged (bad signature), wrong issuer: nothing LINE issued for this page."""


class LiffTokenExpired(LiffAuthError):
    code = "expired"
    status = 401
    message = _("LINE の認証の有効期限が切れました。ページを開き直してください。")


class LiffWrongChannel(LiffAuthError):
    """A genuine token of another LINE Login channel (its ``aud`` is not ours)."""

    code = "audience"
    status = 403
    message = _(
        "このページ用ではない LINE の認証が届きました。"
        "市の LINE 公式アカウントのトークやメニューからページを開き直してください。"
    )


class LiffNotConfigured(LiffAuthError):
    code = "not_configured"
    status = 503
    message = _(
        "LINE との連携が設定されていないため、本人確認ができません。"
        "お手数ですが、市役所の担当課にお問い合わせください。"
    )


class LiffUnavailable(LiffAuthError):
    """LINE could not be reached or answered with something other than a verdict."""

    code = "unavailable"
    status = 503
    message = _("LINE に接続できませんでした。しばらくしてから、もう一度お試しください。")


# LINE's error_description of a refused ID token -> what it means for the resident.
_REFUSALS: dict[str, type[LiffAuthError]] = {
    "IdToken expired.": LiffTokenExpired,
    "Invalid IdToken Audience.": LiffWrongChannel,
}


# --- verification -----------------------------------------------------------------------------


@dataclass(frozen=True)
class LiffIdentity:
    """What LINE vouched for: the user id (``sub``), and name and picture with the profile scope."""

    user_id: str
    display_name: str
    picture_url: str
    expires_at: datetime  # when the ID token expires (not the session identity)


def login_channel_id() -> str:
    """The LINE Login channel (of LINE連携設定) LIFF tokens must be issued for; "" when unset."""
    from line_channel.models import LineChannelSettings

    return (LineChannelSettings.load().login_channel_id or "").strip()


def liff_id() -> str:
    """The LIFF app of My Page and forms: LINE連携設定's LIFF ID, else the ``KAIRAN_LIFF_ID`` setting."""
    from line_channel.models import LineChannelSettings

    return (LineChannelSettings.load().liff_id or "").strip() or settings.KAIRAN_LIFF_ID


_client: httpx.Client | None = None


def _http() -> httpx.Client:
    """One client per process, created on first use (keeps LINE's connection open between pages)."""
    global _client
    if _client is None:
        _client = httpx.Client(headers={"User-Agent": "Kairan"}, follow_redirects=False)
    return _client


def _post_verify(form: dict[str, str]) -> httpx.Response:
    """The verify call, tried twice when the connection fails or LINE has a 5xx hiccup."""
    url = settings.KAIRAN_LINE_API_BASE.rstrip("/") + VERIFY_PATH
    timeout = float(settings.KAIRAN_LINE_TIMEOUT)
    last = ""
    for _attempt in range(2):
        try:
            response = _http().post(url, data=form, timeout=timeout)
        except httpx.TimeoutException as exc:
            raise LiffUnavailable(f"timeout: {exc}") from exc  # a second wait would be too long
        except httpx.TransportError as exc:
            last = f"{type(exc).__name__}: {exc}"
            continue
        if response.status_code < 500:
            return response
        last = f"HTTP {response.status_code}"
    raise LiffUnavailable(last)


def verify_id_token(id_token: str) -> LiffIdentity:
    """Ask LINE whether ``id_token`` is a live ID token of our LINE Login channel; who it names.

    Raises ``LiffNotConfigured`` (no Login channel in LINE連携設定), ``LiffTokenInvalid``
    (malformed or forged), ``LiffTokenExpired``, ``LiffWrongChannel`` (issued for another
    channel) or ``LiffUnavailable`` (LINE not reachable).
    """
    client_id = login_channel_id()
    if not client_id:
        raise LiffNotConfigured("LINE連携設定 has no LINE Login channel id")
    token = (id_token or "").strip()
    if not token or len(token) > MAX_TOKEN_LENGTH or not _JWT.match(token):
        raise LiffTokenInvalid("not a JWT")  # refused here: no call to LINE for garbage
    response = _post_verify({"id_token": token, "client_id": client_id})
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise LiffUnavailable(f"HTTP {response.status_code}: not a JSON object")
    if response.status_code == 400:
        description = str(body.get("error_description") or body.get("error") or "")
        raise _REFUSALS.get(description, LiffTokenInvalid)(description)
    if response.status_code != 200:
        raise LiffUnavailable(f"HTTP {response.status_code}: {body.get('message') or body.get('error')}")
    return _identity(body, client_id)


def _identity(claims: dict[str, Any], client_id: str) -> LiffIdentity:
    """The identity in LINE's answer, after checking it names our channel (defence in depth)."""
    subject, audience, issuer, expires = (claims.get(k) for k in ("sub", "aud", "iss", "exp"))
    if str(audience) != client_id:
        raise LiffWrongChannel(f"aud {audience!r}")
    if issuer != ISSUER or not isinstance(subject, str) or not subject:
        raise LiffTokenInvalid(f"unexpected claims: iss {issuer!r}, sub present: {bool(subject)}")
    if not isinstance(expires, int | float):
        raise LiffTokenInvalid("no exp claim")
    return LiffIdentity(
        user_id=subject,
        display_name=str(claims.get("name") or ""),
        picture_url=str(claims.get("picture") or ""),
        expires_at=datetime.fromtimestamp(expires, tz=UTC),
    )


# --- the session ------------------------------------------------------------------------------


def _drop_resident_data(request: HttpRequest) -> None:
    # SessionBase has keys() but no __iter__.
    for key in [k for k in request.session.keys() if k.startswith(RESIDENT_SESSION_PREFIX)]:  # noqa: SIM118
        del request.session[key]


def remember_line_user(request: HttpRequest, identity: LiffIdentity) -> None:
    """Keep the verified user id in the session, under a new session key (as a login does).

    Another resident's session data (live identity or not) is dropped first.
    """
    stored = request.session.get(SESSION_KEY)
    if not isinstance(stored, dict) or stored.get("user_id") != identity.user_id:
        _drop_resident_data(request)
    request.session.cycle_key()
    lifetime = settings.KAIRAN_LIFF_SESSION_MINUTES * 60
    request.session[SESSION_KEY] = {"user_id": identity.user_id, "expires_at": int(time.time()) + lifetime}


def expire_line_user(request: HttpRequest) -> None:
    """No live identity any more (a refused token); the resident's data waits for them."""
    stored = request.session.get(SESSION_KEY)
    if isinstance(stored, dict) and stored.get("expires_at"):
        request.session[SESSION_KEY] = {**stored, "expires_at": 0}


def forget_line_user(request: HttpRequest) -> None:
    """Log the resident out: identity and session data gone; the next LIFF page identifies again."""
    _drop_resident_data(request)
    request.session.pop(SESSION_KEY, None)


def current_line_user(request: HttpRequest) -> str | None:
    """The LINE user id LINE vouched for in this session, or None (never set, expired, ended)."""
    stored = request.session.get(SESSION_KEY)
    if stored is None:
        return None
    user_id = stored.get("user_id") if isinstance(stored, dict) else None
    expires_at = stored.get("expires_at") if isinstance(stored, dict) else None
    if not isinstance(user_id, str) or not isinstance(expires_at, int):
        forget_line_user(request)  # not written by this module: trust nothing in it
        return None
    return user_id if expires_at > time.time() else None


# --- pages ------------------------------------------------------------------------------------


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def liff_csp(policy: str | None = None) -> str:
    """``KAIRAN_CSP`` opened for LIFF pages: the SDK's script, the hosts the SDK calls, and the
    frames allowed to show the page (the emulator's phone simulator; nobody on LINE)."""
    policy = settings.KAIRAN_CSP if policy is None else policy
    directives: dict[str, list[str]] = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            directives[words[0].lower()] = words[1:]
    default = directives.get("default-src", ["'self'"])
    sdk = _origin(settings.KAIRAN_LIFF_SDK_URL)
    api = _origin(settings.KAIRAN_LINE_API_BASE)
    additions = {
        "script-src": [sdk],
        "connect-src": [sdk, api, *settings.KAIRAN_LIFF_CONNECT_SRC],
    }
    for name, sources in additions.items():
        current = directives.setdefault(name, list(default))
        current.extend(s for s in sources if s and s not in current)
    ancestors = [s for s in settings.KAIRAN_LIFF_FRAME_ANCESTORS if s]
    if ancestors:
        current = [s for s in directives.get("frame-ancestors", ["'self'"]) if s != "'none'"]
        directives["frame-ancestors"] = current + [s for s in ancestors if s not in current]
    return "; ".join(" ".join([name, *sources]) for name, sources in directives.items())


def liff_headers(response: HttpResponse) -> HttpResponse:
    """Headers of every LIFF page: its CSP, never cached (personal), framable only where allowed."""
    response["Content-Security-Policy"] = liff_csp()
    add_never_cache_headers(response)
    patch_cache_control(response, private=True)
    if settings.KAIRAN_LIFF_FRAME_ANCESTORS:
        # The CSP's frame-ancestors names who may frame the page; X-Frame-Options cannot.
        response.xframe_options_exempt = True
    return response


def liff_context(request: HttpRequest, state: str, *, app_id: str | None = None) -> dict[str, Any]:
    """What ``liff_base.html`` needs: the page's state and the data attributes ``liff.js`` reads."""
    return {
        "liff": {
            "state": state,  # "identify", "identified" or "unconfigured"
            "liff_id": liff_id() if app_id is None else app_id,
            "sdk_url": settings.KAIRAN_LIFF_SDK_URL,
            "session_url": reverse("liff_session"),
            "end_url": reverse("liff_session_end"),
            "csrf_token": get_token(request),
            "user_id": current_line_user(request) if state == "identified" else "",
        }
    }


def render_liff(
    request: HttpRequest, template: str, context: dict[str, Any] | None = None, *, status: int = 200
) -> HttpResponse:
    """Render a LIFF page (a template extending ``liff_base.html``) for the identified resident."""
    page = {**(context or {}), **liff_context(request, "identified")}
    return liff_headers(render(request, template, page, status=status))


def identifying_page(request: HttpRequest) -> HttpResponse:
    """The base template in its "identifying" state: its script asks LINE who the user is."""
    app_id = liff_id()
    if not app_id:
        return liff_headers(render(request, BASE_TEMPLATE, liff_context(request, "unconfigured"), status=503))
    return liff_headers(render(request, BASE_TEMPLATE, liff_context(request, "identify", app_id=app_id)))


def liff_login_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Call the view only for a resident LINE vouched for; otherwise identify them first.

    The view reads who it is with ``current_line_user(request)`` (never from the request's
    parameters) and renders with ``render_liff``. A POST that arrives without an identity (it
    expired while a form was filled in) gets the identifying page too; ``liff.js`` then loads
    the URL again with GET, so the view should keep what the resident typed elsewhere (e.g. a
    ``RESIDENT_SESSION_PREFIX`` session key) if losing it would hurt.
    """

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if current_line_user(request) is None:
            return identifying_page(request)
        return liff_headers(view(request, *args, **kwargs))

    return wrapper
