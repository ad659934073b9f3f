"""Opening LIFF apps on the emulator site, as ``https://liff.line.me/{liffId}`` does on LINE.

``GET /liff/{liffId}[/path][?query]&user=<userId>`` (what the simulator's
in-app browser opens) logs the virtual user in — a LINE Login access token and
an ID token, see ``emulator.liff_login`` — and answers 302 to the app's
endpoint URL (the primary redirect URL). LINE's ``liff.state`` query parameter
carries any path and query added to the LIFF URL; the shim's ``liff.init()``
then moves to the secondary redirect URL, as the LIFF SDK does. The
credentials travel in the URL fragment ``#liff.emulator=<base64url JSON>``,
which never reaches a server: ``/static/liff-shim.js`` keeps them in
``sessionStorage`` and removes the fragment. Without ``user`` the app opens as
in an external browser (not logged in); ``liff.login()`` then goes to
``/liff-emulator/login``, where one picks the virtual user to log in as.
"""

from __future__ import annotations

import html
import json
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from emulator.endpoints import store_of
from emulator.liff_login import access_token_hash, b64url, issue_login
from emulator.liff_registry import app_settings, find_app
from emulator.state import Channel, LoginToken, VirtualUser

FRAGMENT_KEY = "liff.emulator"
USER_PARAM = "user"
LOGIN_LIST_LIMIT = 50
# Features the emulator's LIFF browser does not offer (liff.isApiAvailable() answers false).
AVAILABILITY = {
    name: {"permission": False}
    for name in (
        "shareTargetPicker",
        "multipleLiffTransition",
        "subwindowOpen",
        "scanCode",
        "scanCodeV2",
        "getAdvertisingId",
        "addToHomeScreen",
        "bluetoothLeFunction",
        "skipChannelVerificationScreen",
        "addToHomeV2",
        "addToHomeHideDomain",
        "addToHomeLineScheme",
    )
}
MENU_COLORS = {
    "adaptableColorSchemes": ["light"],
    "lightModeColor": {
        "iconColor": "#111111",
        "statusBarColor": "black",
        "titleTextColor": "#111111",
        "titleSubtextColor": "#B7B7B7",
        "titleButtonColor": "#111111",
        "titleBackgroundColor": "#FFFFFF",
        "progressBarColor": "#06C755",
        "progressBackgroundColor": "#FFFFFF",
    },
}

PAGE = """<!doctype html>
<html lang="ja">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>{title} - LINE エミュレーター</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 0; padding: 1.5rem; line-height: 1.7; color: #111; }}
main {{ max-width: 36rem; margin: 0 auto; }}
h1 {{ font-size: 1.4rem; }}
fieldset {{ border: 1px solid #767676; border-radius: .5rem; margin: 1rem 0; }}
label {{ display: block; padding: .25rem 0; }}
input[type=text] {{ font-size: 1rem; padding: .4rem; width: 100%; box-sizing: border-box; }}
button {{ font-size: 1rem; padding: .6rem 1.2rem; border-radius: .5rem; border: 0;
  background: #06793a; color: #fff; cursor: pointer; }}
button:focus-visible, input:focus-visible {{ outline: 3px solid #1a5fb4; outline-offset: 2px; }}
code {{ word-break: break-all; }}
</style>
</head>
<body>
<main>
<h1>{title}</h1>
{body}
</main>
</body>
</html>
"""


def page(title: str, body: str, status: int = 200) -> HTMLResponse:
    """A plain Japanese page of the emulator site (``title`` is escaped, ``body`` is HTML)."""
    return HTMLResponse(
        PAGE.format(title=html.escape(title), body=body),
        status_code=status,
        headers={"Cache-Control": "no-store"},
    )


def error_page(status: int, title: str, message: str) -> HTMLResponse:
    return page(title, f"<p>{html.escape(message)}</p>", status)


def _unknown_app(liff_id: str) -> HTMLResponse:
    return error_page(
        404,
        "LIFFアプリが見つかりません",
        f"LIFF ID「{liff_id}」のLIFFアプリはこのエミュレーターに登録されていません。"
        "LIFF ID が正しいか、チャネルの LIFF アプリ設定を確認してください。",
    )


# --- URLs --------------------------------------------------------------------------


def with_query(url: str, params: list[tuple[str, str]]) -> str:
    """``url`` with ``params`` added to its query (fragment dropped: endpoint URLs have none)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + params
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def under_endpoint(url: str, endpoint: str) -> bool:
    """Whether a ``liff.login()`` redirectUri starts with the endpoint URL (query and fragment aside)."""
    target, base = urlsplit(url), urlsplit(endpoint)
    if (target.scheme, target.netloc) != (base.scheme, base.netloc):
        return False
    base_path = base.path.rstrip("/")
    return target.path == base_path or target.path.startswith(base_path + "/") or not base_path


def encode_session(session: dict[str, Any]) -> str:
    return b64url(json.dumps(session, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def session_for(
    request: Request,
    channel: Channel,
    liff_id: str,
    user: VirtualUser,
    token: LoginToken,
    id_token: str | None,
) -> dict[str, Any]:
    """What the shim keeps for one login: tokens, ``liff.getContext()``, where the API is."""
    store = store_of(request)
    endpoint = channel.liff_apps[liff_id]
    settings = app_settings(channel, liff_id)
    in_client = token.context_type == "utou"
    context: dict[str, Any] = {"type": token.context_type, "userId": user.user_id, "liffId": liff_id}
    if in_client:
        context["viewType"] = settings["view"]["type"]
    context.update(
        {
            "endpointUrl": endpoint,
            "accessTokenHash": access_token_hash(token.token),
            "availability": AVAILABILITY,
            "scope": settings["scope"],
            "menuColorSetting": MENU_COLORS,
            "miniDomainAllowed": False,
            "permanentLinkPattern": "concat",
        }
    )
    return {
        "liffId": liff_id,
        "loginChannelId": channel.spec.login_channel_id,
        "endpointUrl": endpoint,
        "apiBase": store.config.api_base,
        "accessToken": token.token,
        "idToken": id_token,
        "expiresAt": int(token.expires_at * 1000),
        "inClient": in_client,
        "language": user.language,
        "context": context,
    }


def _credentials_redirect(url: str, session: dict[str, Any] | None, status: int) -> RedirectResponse:
    if session is not None:
        url = url.split("#", 1)[0] + f"#{FRAGMENT_KEY}=" + encode_session(session)
    # The fragment holds an access token: keep it out of caches and referrers.
    return RedirectResponse(
        url, status_code=status, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    )


# --- handlers ----------------------------------------------------------------------


async def open_liff(request: Request) -> Response:
    """``https://liff.line.me/{liffId}``: log the user in and redirect to the endpoint URL."""
    store = store_of(request)
    liff_id = request.path_params["liff_id"]
    with store.lock:
        channel = find_app(store, liff_id)
        if channel is None:
            return _unknown_app(liff_id)
        endpoint = channel.liff_apps[liff_id]
        # Additional information (path, query) after the LIFF id travels in liff.state.
        extra = request.path_params.get("rest", "")
        query = [(k, v) for k, v in parse_qsl(request.url.query, keep_blank_values=True) if k != USER_PARAM]
        state = ("/" + extra if extra else "") + ("?" + urlencode(query) if query else "")
        target = with_query(endpoint, [("liff.state", state)]) if state else endpoint
        user_id = request.query_params.get(USER_PARAM)
        if not user_id:
            return _credentials_redirect(target, None, 302)  # as in an external browser: not logged in
        user = channel.users.get(user_id)
        if user is None:
            return error_page(
                404, "ユーザーが見つかりません", f"ユーザー「{user_id}」はこのチャネルにいません。"
            )
        # Friends or not, any LINE user may open a LIFF app.
        token, id_token = issue_login(store, channel, user, liff_id, context_type="utou")
        session = session_for(request, channel, liff_id, user, token, id_token)
    return _credentials_redirect(target, session, 302)


async def app_info(request: Request) -> Response:
    """What ``liff.init()`` needs about an app when the page has no credentials yet."""
    store = store_of(request)
    liff_id = request.path_params["liff_id"]
    channel = find_app(store, liff_id)
    if channel is None:
        return JSONResponse({"error": f"LIFF ID「{liff_id}」のLIFFアプリはありません。"}, status_code=404)
    settings = app_settings(channel, liff_id)
    return JSONResponse(
        {
            "liffId": liff_id,
            "loginChannelId": channel.spec.login_channel_id,
            "endpointUrl": channel.liff_apps[liff_id],
            "viewType": settings["view"]["type"],
            "scope": settings["scope"],
            "apiBase": store.config.api_base,
        }
    )


def _login_target(request: Request, values: dict[str, str]) -> tuple[Channel, str, str] | Response:
    """The app and redirect URI of a login request, or the error page LINE would show."""
    store = store_of(request)
    liff_id = values.get("liffId", "")
    channel = find_app(store, liff_id)
    if channel is None:
        return _unknown_app(liff_id)
    endpoint = channel.liff_apps[liff_id]
    redirect_uri = values.get("redirectUri") or endpoint
    if not under_endpoint(redirect_uri, endpoint):
        return error_page(
            400,
            "ログインできません",
            f"redirectUri「{redirect_uri}」が LIFF アプリのエンドポイントURL「{endpoint}」"
            "で始まっていません。",
        )
    return channel, liff_id, redirect_uri


async def login_form(request: Request) -> Response:
    """``liff.login()`` outside the LIFF browser: choose the virtual user to log in as."""
    target = _login_target(request, dict(request.query_params))
    if isinstance(target, Response):
        return target
    channel, liff_id, redirect_uri = target
    users = list(channel.users.values())[:LOGIN_LIST_LIMIT]
    choices = "".join(
        f'<label><input type="radio" name="user" value="{html.escape(u.user_id)}"'
        f"{' checked' if i == 0 else ''}> {html.escape(u.display_name)}"
        f" <small>({html.escape(u.user_id)})</small></label>"
        for i, u in enumerate(users)
    )
    listing = (
        f"<fieldset><legend>ログインするユーザー</legend>{choices}</fieldset>"
        if users
        else "<p>このチャネルにはユーザーがいません。シミュレーターでユーザーを作成してください。</p>"
    )
    body = f"""<p>LIFFアプリ <code>{html.escape(liff_id)}</code> に
LINE ログインします（エミュレーター）。</p>
<form method="post" action="/liff-emulator/authorize">
<input type="hidden" name="liffId" value="{html.escape(liff_id)}">
<input type="hidden" name="redirectUri" value="{html.escape(redirect_uri)}">
{listing}
<label for="user-id">ユーザーIDを直接入力（任意）</label>
<input type="text" id="user-id" name="userId" autocomplete="off" spellcheck="false">
<p><button type="submit">ログイン</button></p>
</form>"""
    return page("LINEログイン", body)


async def authorize(request: Request) -> Response:
    """The login form's answer: tokens for the chosen user, back to the redirect URI."""
    store = store_of(request)
    raw = await request.body()
    values = dict(parse_qsl(raw.decode("utf-8", errors="replace"), keep_blank_values=True))
    with store.lock:
        target = _login_target(request, values)
        if isinstance(target, Response):
            return target
        channel, liff_id, redirect_uri = target
        user_id = values.get("userId", "").strip() or values.get("user", "")
        user = channel.users.get(user_id)
        if user is None:
            return error_page(400, "ログインできません", "ログインするユーザーを選んでください。")
        token, id_token = issue_login(store, channel, user, liff_id, context_type="external")
        session = session_for(request, channel, liff_id, user, token, id_token)
    return _credentials_redirect(redirect_uri, session, 303)


site_routes = [
    Route("/liff/{liff_id}", open_liff, methods=["GET"]),
    Route("/liff/{liff_id}/{rest:path}", open_liff, methods=["GET"]),
    Route("/liff-emulator/apps/{liff_id}", app_info, methods=["GET"]),
    Route("/liff-emulator/login", login_form, methods=["GET"]),
    Route("/liff-emulator/authorize", authorize, methods=["POST"]),
]
