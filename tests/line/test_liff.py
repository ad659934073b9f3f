"""LIFF identity through the emulator: a resident opens Kairan's LIFF app, the page POSTs the ID
token LINE gave it, Kairan asks LINE's verify endpoint and keeps only the verified user id.

Tokens are minted the way the simulator's in-app browser gets them (``emu.open_liff``: the
emulator's ``/liff/{liffId}?user=``). Refusals (expired, forged, another channel's, malformed,
LINE unreachable, not configured) answer the resident in Japanese and leave no identity; nothing
but a verified token (no ``user_id`` parameter) ever sets or changes it.
"""

from __future__ import annotations

import base64
import json
import re
import time
from typing import Any

import httpx
import pytest
from bs4 import BeautifulSoup
from django.test import Client
from django.utils import timezone

from emulator.client import EmulatorControl
from emulator.liff_login import sign_jwt
from emulator.server import RunningEmulator
from line_channel import followers
from line_channel.gateway import Gateway
from line_channel.liff import (
    SESSION_KEY,
    LiffTokenExpired,
    LiffTokenInvalid,
    LiffWrongChannel,
    liff_csp,
    verify_id_token,
)
from line_channel.models import Follower

pytestmark = pytest.mark.django_db

LIFF_ID = "2000000002-kairan01"
PAGE = "/liff/"
SESSION = "/liff/session/"
END = "/liff/session/end/"
EXPIRED = "LINE の認証の有効期限が切れました。ページを開き直してください。"


@pytest.fixture
def liff_app(line_emulator: RunningEmulator, emu: EmulatorControl, line_channel: Any, settings: Any) -> str:
    """Kairan's LIFF app registered on the emulator's channel; Kairan's pages load the shim."""
    settings.KAIRAN_LIFF_ID = LIFF_ID
    settings.KAIRAN_LIFF_SDK_URL = line_emulator.url + "/static/liff-shim.js"
    settings.KAIRAN_LIFF_FRAME_ANCESTORS = []
    emu.channel(liffApps={LIFF_ID: "http://testserver/liff/"})
    return LIFF_ID


def opens_app(emu: EmulatorControl, name: str, **fields: Any) -> tuple[str, str]:
    """A new resident opens the LIFF app in LINE; their user id and the page's ID token."""
    user = emu.create_user(name, **fields)
    credentials = emu.open_liff(LIFF_ID, user["user_id"])
    return str(user["user_id"]), str(credentials["idToken"])


def befriend(emu: EmulatorControl, user_id: str) -> Follower:
    """The resident is a friend whose profile Kairan fetched (what the follow webhook leads to)."""
    emu.follow(user_id)
    follower = followers.record_follow(line_user_id=user_id, at=timezone.now(), event_id=f"follow-{user_id}")
    with Gateway.from_settings() as gateway:
        assert followers.fetch_profile(follower=follower, gateway=gateway)
    return Follower.objects.get(pk=follower.pk)


def identify(client: Client, token: Any, **extra: Any) -> Any:
    return client.post(SESSION, {"idToken": token, **extra}, content_type="application/json")


def session_user(client: Client) -> str | None:
    """The session's live identity (an expired one keeps its user id with expires_at in the past)."""
    stored = client.session.get(SESSION_KEY)
    return stored["user_id"] if stored and stored["expires_at"] > time.time() else None


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    result: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return result


def state_of(response: Any) -> str:
    root = BeautifulSoup(response.content, "html.parser").find(id="kairan-liff")
    assert root is not None
    return str(root["data-state"])


def refused(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body: dict[str, Any] = response.json()
    assert body["ok"] is False and body["error"] == code
    assert re.search(r"[ぁ-んァ-ン一-龥]", body["message"]), "a Japanese message for the resident"
    return body


# --- verification -------------------------------------------------------------------------------


def test_verify_id_token_returns_who_line_vouches_for(liff_app: str, emu: EmulatorControl) -> None:
    user_id, token = opens_app(emu, "大船渡 花子", pictureUrl="https://profile.example/hanako.png")
    identity = verify_id_token(token)
    assert identity.user_id == user_id
    assert identity.display_name == "大船渡 花子"
    assert identity.picture_url == "https://profile.example/hanako.png"
    assert abs(identity.expires_at.timestamp() - (time.time() + 3600)) < 60


def test_refusals_are_typed(liff_app: str, emu: EmulatorControl) -> None:
    _user_id, token = opens_app(emu, "山田 一郎")
    with pytest.raises(LiffTokenInvalid):
        verify_id_token(token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB"))
    emu.advance_clock(3601)
    with pytest.raises(LiffTokenExpired) as expired:
        verify_id_token(token)
    assert str(expired.value.message) == EXPIRED
    assert expired.value.detail == "IdToken expired."


# --- the session flow -----------------------------------------------------------------------------


def test_page_without_identity_asks_line_first(liff_app: str, client: Client, line_emulator: Any) -> None:
    response = client.get(PAGE)
    assert response.status_code == 200
    assert state_of(response) == "identify"
    page = BeautifulSoup(response.content, "html.parser")
    root = page.find(id="kairan-liff")
    assert root is not None
    assert root["data-liff-id"] == LIFF_ID and root["data-session-url"] == SESSION
    assert root["data-csrf-token"] and root["data-user"] == ""
    scripts = [tag.get("src") for tag in page.find_all("script")]
    assert scripts == [line_emulator.url + "/static/liff-shim.js", "/static/line_channel/liff.js"]
    assert page.find(id="liff-display-name") is None, "no content before the resident is known"
    assert "LINE で本人確認をしています" in page.get_text()
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]


def test_a_valid_token_identifies_the_resident(liff_app: str, emu: EmulatorControl, client: Client) -> None:
    user_id, token = opens_app(emu, "大船渡 花子")
    befriend(emu, user_id)
    client.get(PAGE)
    before = client.session.session_key
    response = identify(client, token)
    assert response.status_code == 200 and response.json() == {"ok": True}
    assert session_user(client) == user_id
    assert client.session.session_key != before, "a new session key, as at any login"
    stored = client.session[SESSION_KEY]
    assert set(stored) == {"user_id", "expires_at"}, "only the user id and its expiry are kept"
    assert 3500 < stored["expires_at"] - time.time() <= 3600

    page = client.get(PAGE)
    assert state_of(page) == "identified"
    assert '<dd id="liff-display-name">大船渡 花子</dd>' in page.content.decode()


def test_form_post_works_too(liff_app: str, emu: EmulatorControl, client: Client) -> None:
    user_id, token = opens_app(emu, "佐藤 次郎")
    response = client.post(SESSION, {"id_token": token})
    assert response.status_code == 200
    assert session_user(client) == user_id
    page = client.get(PAGE)
    assert state_of(page) == "identified"
    assert "友だち追加すると、ここに表示名が出ます" in page.content.decode()


def test_an_expired_token_is_refused(liff_app: str, emu: EmulatorControl, client: Client) -> None:
    _user_id, token = opens_app(emu, "鈴木 美咲")
    emu.advance_clock(3601)  # the ID token lives one hour
    body = refused(identify(client, token), 401, "expired")
    assert body["message"] == EXPIRED
    assert session_user(client) is None
    assert state_of(client.get(PAGE)) == "identify"


def test_forged_tokens_are_refused(liff_app: str, emu: EmulatorControl, client: Client) -> None:
    _victim_id, _ = opens_app(emu, "被害 者")
    _user_id, token = opens_app(emu, "攻撃 者")
    header, _payload, signature = token.split(".")
    claims = claims_of(token)
    forged = [
        # Another user's id in a genuine token (the signature no longer matches).
        f"{header}.{b64({**claims, 'sub': _victim_id})}.{signature}",
        # Signed with a secret that is not the Login channel's.
        sign_jwt({**claims, "sub": _victim_id}, "not-the-login-channel-secret"),
        # No signature at all.
        f"{b64({'typ': 'JWT', 'alg': 'none'})}.{b64({**claims, 'sub': _victim_id})}.",
    ]
    for token in forged:
        body = refused(identify(client, token), 400, "invalid")
        assert "開き直してください" in body["message"]
        assert session_user(client) is None


def test_a_token_of_another_channel_is_refused(
    liff_app: str, line_emulator: RunningEmulator, emu: EmulatorControl, client: Client
) -> None:
    """A genuine token of another LINE Login channel (another provider's LIFF app): audience."""
    created = httpx.post(
        line_emulator.url + "/control/channels",
        json={
            "channel_id": "2000000031",
            "access_token": "other-city-access-token",
            "bot_user_id": "U0000000000000000000000000000b031",
            "login_channel_id": "2000000032",
            "login_channel_secret": "other-city-login-secret",
            "liff_apps": {"2000000032-otherapp": "https://other-city.example/liff/"},
        },
    )
    assert created.status_code == 200, created.text
    other = EmulatorControl(line_emulator.url, channel_id="2000000031")
    try:
        user = other.create_user("他市 住民")
        token = other.open_liff("2000000032-otherapp", user["user_id"])["idToken"]
    finally:
        other.close()
    assert claims_of(token)["aud"] == "2000000032"
    body = refused(identify(client, token), 403, "audience")
    assert "このページ用ではない" in body["message"]
    assert session_user(client) is None
    with pytest.raises(LiffWrongChannel):
        verify_id_token(token)


@pytest.mark.parametrize(
    "token", ["", "not-a-token", "a.b", "a.b.c.d", "x" * 5000 + ".y.z", "ab.c d.e", 123, None, ["a.b.c"]]
)
def test_malformed_tokens_are_refused_without_asking_line(
    liff_app: str, emu: EmulatorControl, client: Client, token: Any
) -> None:
    emu.set_faults({"login.verify": {"error_rate": 1, "status": 500}})  # LINE would answer 503
    refused(identify(client, token), 400, "invalid")
    assert session_user(client) is None


def test_unreadable_posts_are_refused(liff_app: str, client: Client) -> None:
    refused(client.post(SESSION, b"{not json", content_type="application/json"), 400, "invalid")
    refused(client.post(SESSION, {}), 400, "invalid")
    assert client.get(SESSION).status_code == 405


def test_line_unreachable(liff_app: str, emu: EmulatorControl, client: Client, settings: Any) -> None:
    _user_id, token = opens_app(emu, "高橋 健太")
    emu.set_faults({"login.verify": {"error_rate": 1, "status": 500}})
    body = refused(identify(client, token), 503, "unavailable")
    assert body["message"] == "LINE に接続できませんでした。しばらくしてから、もう一度お試しください。"
    emu.set_faults({"login.verify": {"error_rate": 1, "drop": True}})  # connection closed, no answer
    refused(identify(client, token), 503, "unavailable")
    emu.set_faults({"login.verify": {"error_rate": 1, "latency_ms": 2500}})
    settings.KAIRAN_LINE_TIMEOUT = 1
    refused(identify(client, token), 503, "unavailable")
    settings.KAIRAN_LINE_API_BASE = "http://127.0.0.1:9/api"  # nothing listens there
    refused(identify(client, token), 503, "unavailable")
    assert session_user(client) is None


def test_not_configured(liff_app: str, emu: EmulatorControl, client: Client, line_channel: Any) -> None:
    _user_id, token = opens_app(emu, "伊藤 大輔")
    line_channel.login_channel_id = ""
    line_channel.save()
    body = refused(identify(client, token), 503, "not_configured")
    assert "LINE との連携が設定されていない" in body["message"]
    assert session_user(client) is None


def test_page_without_liff_id(liff_app: str, client: Client, settings: Any) -> None:
    settings.KAIRAN_LIFF_ID = ""
    response = client.get(PAGE)
    assert response.status_code == 503
    assert state_of(response) == "unconfigured"
    assert BeautifulSoup(response.content, "html.parser").find_all("script") == []
    assert "ただいま準備中です" in response.content.decode()


# --- nothing but a verified token sets the identity ---------------------------------------------------


def test_a_user_id_parameter_never_changes_the_identity(
    liff_app: str, emu: EmulatorControl, client: Client
) -> None:
    resident, token = opens_app(emu, "大船渡 花子")
    other, _ = opens_app(emu, "別人 太郎")
    befriend(emu, resident)
    befriend(emu, other)

    # Not identified: a user id in the query is not an identity.
    for query in (f"?user_id={other}", f"?userId={other}&sub={other}", f"?user={other}"):
        assert state_of(client.get(PAGE + query)) == "identify"
        assert session_user(client) is None

    assert identify(client, token, userId=other, user_id=other, sub=other).status_code == 200
    assert session_user(client) == resident, "only the token counts, not the ids posted with it"
    for query in (f"?user_id={other}", f"?userId={other}", f"?liff.state=%2F%3Fuser_id%3D{other}"):
        page = client.get(PAGE + query)
        assert state_of(page) == "identified"
        assert "大船渡 花子" in page.content.decode() and "別人 太郎" not in page.content.decode()
        assert session_user(client) == resident

    # A POST with a user id but no token is refused and leaves no identity at all.
    refused(client.post(SESSION, {"user_id": other}), 400, "invalid")
    assert session_user(client) is None


def test_another_residents_token_replaces_the_identity(
    liff_app: str, emu: EmulatorControl, client: Client
) -> None:
    first, first_token = opens_app(emu, "一人目 住民")
    second, second_token = opens_app(emu, "二人目 住民")
    identify(client, first_token)
    session = client.session
    session["kairan_liff_form_draft"] = {"comment": "一人目の下書き"}  # a later LIFF page's data
    session["unrelated"] = "kept"
    session.save()

    # The same resident again: a new session key, their data stays.
    key = client.session.session_key
    identify(client, first_token)
    assert client.session.session_key != key
    assert client.session["kairan_liff_form_draft"] == {"comment": "一人目の下書き"}

    key = client.session.session_key
    assert identify(client, second_token).status_code == 200
    assert session_user(client) == second != first
    assert client.session.session_key != key
    assert "kairan_liff_form_draft" not in client.session, "the first resident's data is gone"
    assert client.session["unrelated"] == "kept"


def test_identity_expires_and_ends(liff_app: str, emu: EmulatorControl, client: Client) -> None:
    _user_id, token = opens_app(emu, "期限 切子")
    identify(client, token)
    session = client.session
    session[SESSION_KEY] = {**session[SESSION_KEY], "expires_at": int(time.time()) - 1}
    session["kairan_liff_form_draft"] = "書きかけ"
    session.save()
    assert state_of(client.get(PAGE)) == "identify"
    assert session_user(client) is None

    # The same resident identifies again: what they had typed is still there.
    identify(client, token)
    assert state_of(client.get(PAGE)) == "identified"
    assert client.session["kairan_liff_form_draft"] == "書きかけ"

    # Logging out ends the identity and drops the resident's data.
    assert client.post(END).json() == {"ok": True}
    assert SESSION_KEY not in client.session and "kairan_liff_form_draft" not in client.session
    assert state_of(client.get(PAGE)) == "identify"


def test_a_refused_token_ends_the_identity_but_not_for_another_resident(
    liff_app: str, emu: EmulatorControl, client: Client
) -> None:
    first, first_token = opens_app(emu, "一人目 住民")
    _second, second_token = opens_app(emu, "二人目 住民")
    identify(client, first_token)
    session = client.session
    session["kairan_liff_form_draft"] = "一人目の下書き"
    session.save()
    emu.advance_clock(3601)
    refused(identify(client, second_token), 401, "expired")
    assert session_user(client) is None
    assert state_of(client.get(PAGE)) == "identify"
    emu.advance_clock(-3601)
    identify(client, first_token)
    assert session_user(client) == first
    assert client.session["kairan_liff_form_draft"] == "一人目の下書き"
    identify(client, second_token)
    assert "kairan_liff_form_draft" not in client.session


def test_the_token_post_is_csrf_protected(liff_app: str, emu: EmulatorControl) -> None:
    user_id, token = opens_app(emu, "安全 確子")
    client = Client(enforce_csrf_checks=True)
    page = BeautifulSoup(client.get(PAGE).content, "html.parser")
    root = page.find(id="kairan-liff")
    assert root is not None
    assert identify(client, token).status_code == 403
    assert session_user(client) is None
    response = client.post(
        SESSION,
        {"idToken": token},
        content_type="application/json",
        headers={"X-CSRFToken": str(root["data-csrf-token"])},
    )
    assert response.status_code == 200
    assert session_user(client) == user_id


# --- headers ----------------------------------------------------------------------------------------


def directives(policy: str) -> dict[str, list[str]]:
    return {p.split()[0]: p.split()[1:] for p in policy.split(";") if p.strip()}


def test_liff_pages_csp(liff_app: str, client: Client, line_emulator: RunningEmulator, settings: Any) -> None:
    emulator = line_emulator.url
    response = client.get(PAGE)
    policy = directives(response["Content-Security-Policy"])
    assert policy["script-src"] == ["'self'", emulator]
    assert policy["connect-src"] == ["'self'", emulator, "https://access.line.me", "https://liff.line.me"]
    assert policy["frame-ancestors"] == ["'self'"] and response["X-Frame-Options"] == "SAMEORIGIN"
    assert policy["object-src"] == ["'none'"] and "'unsafe-inline'" not in policy["script-src"]
    # Other pages keep Kairan's policy.
    assert client.get("/healthz")["Content-Security-Policy"] == settings.KAIRAN_CSP

    # The emulator's phone simulator shows LIFF pages in an iframe: allowed there only.
    settings.KAIRAN_LIFF_FRAME_ANCESTORS = [emulator]
    response = client.get(PAGE)
    assert directives(response["Content-Security-Policy"])["frame-ancestors"] == ["'self'", emulator]
    assert "X-Frame-Options" not in response
    assert client.get("/admin/login/")["X-Frame-Options"] == "SAMEORIGIN"


def test_liff_csp_in_production(settings: Any) -> None:
    settings.KAIRAN_LIFF_SDK_URL = "https://static.line-scdn.net/liff/edge/2/sdk.js"
    settings.KAIRAN_LINE_API_BASE = "https://api.line.me"
    settings.KAIRAN_LIFF_CONNECT_SRC = ["https://access.line.me", "https://liff.line.me"]
    settings.KAIRAN_LIFF_FRAME_ANCESTORS = []
    policy = directives(liff_csp("default-src 'self'; frame-ancestors 'none'; img-src 'self'"))
    assert policy["script-src"] == ["'self'", "https://static.line-scdn.net"]
    assert policy["connect-src"] == [
        "'self'",
        "https://static.line-scdn.net",
        "https://api.line.me",
        "https://access.line.me",
        "https://liff.line.me",
    ]
    assert policy["frame-ancestors"] == ["'none'"]
    settings.KAIRAN_LIFF_FRAME_ANCESTORS = ["http://127.0.0.1:8100"]
    assert directives(liff_csp("frame-ancestors 'none'"))["frame-ancestors"] == ["http://127.0.0.1:8100"]
