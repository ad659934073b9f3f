"""LIFF pages: the endpoint that turns a LIFF ID token into the session's identity, and the first page.

``start_session`` is what ``static/line_channel/liff.js`` POSTs the ID token to
(JSON ``{"idToken": ...}`` or the form field ``id_token``; CSRF-protected like
every POST). It reads nothing else from the request: a user id the page might
send is ignored. The answer is JSON, ``{"ok": true}`` or ``{"ok": false,
"error": <code>, "message": <Japanese, for the resident>}`` with the status of
the refusal (400 invalid, 401 expired, 403 another channel's token, 503 not
configured or LINE unreachable). A refused token also ends any live identity the
session had: the page asked because the identity was missing or not its user's.
``end_session`` logs the resident out (``kairanLiff.logout()``).

The LIFF app's endpoint URL (``/liff/``) is My Page (``residents.views_mypage``).
"""

from __future__ import annotations

import json
import logging

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_POST

from line_channel.liff import (
    LiffAuthError,
    expire_line_user,
    forget_line_user,
    liff_headers,
    remember_line_user,
    verify_id_token,
)

log = logging.getLogger(__name__)


def _posted_token(request: HttpRequest) -> str:
    """The ID token of a JSON or form POST; "" when there is none."""
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            return ""
        token = data.get("idToken") if isinstance(data, dict) else None
    else:
        token = request.POST.get("id_token")
    return token if isinstance(token, str) else ""


@require_POST
def start_session(request: HttpRequest) -> HttpResponse:
    """Verify the page's ID token with LINE; keep the LINE user id it names in the session."""
    try:
        identity = verify_id_token(_posted_token(request))
    except LiffAuthError as error:
        expire_line_user(request)
        level = logging.WARNING if error.status >= 500 else logging.INFO
        log.log(level, "LIFF identification refused: %s (%s)", error.code, error.detail)
        body = {"ok": False, "error": error.code, "message": str(error.message)}
        return liff_headers(JsonResponse(body, status=error.status))
    remember_line_user(request, identity)
    return liff_headers(JsonResponse({"ok": True}))


@require_POST
def end_session(request: HttpRequest) -> HttpResponse:
    """Forget the resident (``kairanLiff.logout()``); the next LIFF page identifies them again."""
    forget_line_user(request)
    return liff_headers(JsonResponse({"ok": True}))


def site_page(request: HttpRequest, path: str) -> HttpResponse:
    """A page of the site opened inside LINE: served as the page at ``/<path>``.

    LINE opens ``https://liff.line.me/{liffId}/<path>`` at the LIFF app's endpoint (``/liff/``)
    with ``liff.state=/<path>``; ``liff.init()`` there moves on to ``/liff/<path>``, which lands
    here. The page serves itself (a form that needs the resident's identity asks LINE first);
    the response gets the LIFF pages' headers (the SDK in the CSP, framing in the simulator).
    """
    from wagtail.views import serve

    return liff_headers(serve(request, path))
