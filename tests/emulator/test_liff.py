"""LIFF apps and LINE Login identity: opening a LIFF app, ID and access tokens and their verify
endpoints, /v2/profile, liff.sendMessages' endpoint, and LIFF app management through
line-bot-sdk's ``linebot.v3.liff.Liff``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib.util
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from linebot.v3.liff import (
    AddLiffAppRequest,
    ApiClient,
    ApiException,
    Configuration,
    Liff,
    LiffScope,
    LiffView,
    UpdateLiffAppRequest,
    UpdateLiffView,
)

from emulator.client import EmulatorControl
from emulator.config import EmulatorConfig
from emulator.liff_login import sign_jwt
from emulator.server import RunningEmulator, free_port
from emulator.state import Channel, Store
from tests.emulator.webhook_receiver import Receiver

LIFF_ID = re.compile(r"^2000000002-[A-Za-z0-9]{8}$")


def sample_id(emulator: RunningEmulator) -> str:
    return f"{emulator.config.channels[0].login_channel_id}-sample01"


def world(emulator: RunningEmulator, emu: EmulatorControl) -> Channel:
    channel = emulator.store.channel(emu.channel_id)
    assert channel is not None
    return channel


def b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwt_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header, payload, _signature = token.split(".")
    return json.loads(b64decode(header)), json.loads(b64decode(payload))


def verify_id_token(emulator: RunningEmulator, **form: str) -> httpx.Response:
    return httpx.post(emulator.config.api_base + "/oauth2/v2.1/verify", data=form)


def verify_access_token(emulator: RunningEmulator, token: str) -> httpx.Response:
    return httpx.get(emulator.config.api_base + "/oauth2/v2.1/verify", params={"access_token": token})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def opened(emu: EmulatorControl, emulator: RunningEmulator, name: str = "山田 花子") -> dict[str, Any]:
    """A new (not friend) user opens the sample LIFF app in the simulator; the page's credentials."""
    user = emu.create_user(name)
    session = emu.open_liff(sample_id(emulator), user["user_id"])
    session["user"] = user
    return session


@pytest.fixture
def liff_api(emulator: RunningEmulator, emu: EmulatorControl) -> Iterator[Liff]:
    """line-bot-sdk's LIFF server API client on the emulator's api host."""
    config = Configuration(
        host=emulator.config.api_base, access_token=emulator.config.channels[0].access_token
    )
    with ApiClient(config) as client:
        yield Liff(client)


# --- opening a LIFF app --------------------------------------------------------------------------


def test_sample_app_is_registered_and_survives_a_reset(
    emulator: RunningEmulator, emu: EmulatorControl
) -> None:
    apps = emu.channel()["liffApps"]
    assert apps[sample_id(emulator)] == emulator.url + "/liff-sample/"
    emu.channel(liffApps={})
    emu.reset()
    assert sample_id(emulator) in emu.channel()["liffApps"]


def test_open_redirects_to_the_endpoint_with_credentials_in_the_fragment(
    emulator: RunningEmulator, emu: EmulatorControl
) -> None:
    user = emu.create_user("山田 花子", statusMessage="よろしく")
    assert user["is_friend"] is False, "anyone may open a LIFF app, friend or not"
    answer = httpx.get(f"{emulator.url}/liff/{sample_id(emulator)}", params={"user": user["user_id"]})
    assert answer.status_code == 302
    assert answer.headers["cache-control"] == "no-store"
    location, _, fragment = answer.headers["location"].partition("#")
    assert location == emulator.url + "/liff-sample/"
    key, _, encoded = fragment.partition("=")
    assert key == "liff.emulator"
    session = json.loads(b64decode(encoded))
    assert session["inClient"] is True and session["liffId"] == sample_id(emulator)
    assert session["apiBase"] == emulator.config.api_base and session["loginChannelId"] == "2000000002"
    context = session["context"]
    assert context["type"] == "utou" and context["viewType"] == "full"
    assert context["userId"] == user["user_id"] and context["endpointUrl"] == location
    digest = hashlib.sha256(session["accessToken"].encode()).digest()
    assert b64decode(context["accessTokenHash"]) == digest[:16]
    assert set(context["scope"]) == {"openid", "profile", "chat_message.write"}

    header, claims = jwt_parts(session["idToken"])
    assert header == {"typ": "JWT", "alg": "HS256"}
    assert claims["iss"] == "https://access.line.me" and claims["sub"] == user["user_id"]
    assert claims["aud"] == "2000000002" and claims["amr"] == ["linesso"]
    assert claims["name"] == "山田 花子" and claims["exp"] - claims["iat"] == 3600
    assert "picture" not in claims, "no picture claim for a user without a profile image"
    signing_input, _, signature = session["idToken"].rpartition(".")
    secret = emulator.config.channels[0].login_channel_secret.encode()
    expected = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    assert b64decode(signature) == expected


def test_additional_path_and_query_travel_in_liff_state(
    emulator: RunningEmulator, emu: EmulatorControl
) -> None:
    user = emu.create_user("佐藤 一郎")
    session = emu.open_liff(sample_id(emulator), user["user_id"], path="/detail/7?tab=2")
    query = parse_qs(urlsplit(session["location"]).query)
    assert query == {"liff.state": ["/detail/7?tab=2"]}, "the emulator's user parameter is not passed on"
    assert session["accessToken"]


def test_unknown_liff_id_is_a_japanese_404(emulator: RunningEmulator, emu: EmulatorControl) -> None:
    answer = httpx.get(f"{emulator.url}/liff/2000000002-unknown1", params={"user": "U0"})
    assert answer.status_code == 404
    assert '<html lang="ja">' in answer.text and "LIFFアプリが見つかりません" in answer.text
    assert httpx.get(f"{emulator.url}/liff-emulator/apps/2000000002-unknown1").status_code == 404
    info = httpx.get(f"{emulator.url}/liff-emulator/apps/{sample_id(emulator)}").json()  # for liff.init()
    assert (
        info["endpointUrl"] == emulator.url + "/liff-sample/" and info["apiBase"] == emulator.config.api_base
    )


def test_unknown_user_is_404_and_no_user_opens_logged_out(
    emulator: RunningEmulator, emu: EmulatorControl
) -> None:
    missing = httpx.get(f"{emulator.url}/liff/{sample_id(emulator)}", params={"user": "Unobody"})
    assert missing.status_code == 404 and "ユーザーが見つかりません" in missing.text
    external = httpx.get(f"{emulator.url}/liff/{sample_id(emulator)}")
    assert external.status_code == 302 and "#" not in external.headers["location"]


def test_shim_and_sample_page_are_served(emulator: RunningEmulator, emu: EmulatorControl) -> None:
    shim = httpx.get(f"{emulator.url}/static/liff-shim.js")
    assert shim.status_code == 200 and shim.headers["content-type"].startswith("text/javascript")
    assert shim.text == (Path(__file__).resolve().parents[2] / "emulator/static/liff-shim.js").read_text()
    for name in ("init", "getProfile", "getIDToken", "getDecodedIDToken", "sendMessages", "closeWindow"):
        assert f"{name}:" in shim.text
    sample = httpx.get(f"{emulator.url}/liff-sample/")
    assert sample.status_code == 200 and "script-src 'self'" in sample.headers["content-security-policy"]
    assert 'src="/static/liff-shim.js"' in sample.text and sample_id(emulator) in sample.text
    assert "トークに送る" in sample.text and "閉じる" in sample.text


# --- POST /oauth2/v2.1/verify (ID token) -------------------------------------------------------


def test_id_token_verifies(emulator: RunningEmulator, emu: EmulatorControl) -> None:
    session = opened(emu, emulator)
    answer = verify_id_token(emulator, id_token=session["idToken"], client_id="2000000002")
    assert answer.status_code == 200 and answer.headers["x-line-request-id"]
    claims = answer.json()
    assert claims == jwt_parts(session["idToken"])[1]
    assert claims["sub"] == session["user"]["user_id"]
    with_user = verify_id_token(
        emulator, id_token=session["idToken"], client_id="2000000002", user_id=session["user"]["user_id"]
    )
    assert with_user.status_code == 200


def test_id_token_expires_after_an_hour(emulator: RunningEmulator, emu: EmulatorControl) -> None:
    session = opened(emu, emulator)
    emu.advance_clock(3500)
    assert verify_id_token(emulator, id_token=session["idToken"], client_id="2000000002").status_code == 200
    emu.advance_clock(100)
    answer = verify_id_token(emulator, id_token=session["idToken"], client_id="2000000002")
    assert answer.status_code == 400
    assert answer.json() == {"error": "invalid_request", "error_description": "IdToken expired."}


@pytest.mark.parametrize(
    ("extra", "description"),
    [
        ({"client_id": "1234567890"}, "Invalid IdToken Audience."),
        ({"nonce": "n-0123456789"}, "Invalid IdToken Nonce."),
        ({"user_id": "U00000000000000000000000000000000"}, "Invalid IdToken Subject Identifier."),
    ],
)
def test_id_token_checks_against_the_request(
    emulator: RunningEmulator, emu: EmulatorControl, extra: dict[str, str], description: str
) -> None:
    session = opened(emu, emulator)
    form = {"id_token": session["idToken"], "client_id": "2000000002", **extra}
    answer = verify_id_token(emulator, **form)
    assert answer.status_code == 400
    assert answer.json() == {"error": "invalid_request", "error_description": description}


def test_nonce_in_the_token_must_match(emulator: RunningEmulator, emu: EmulatorControl) -> None:
    user = emu.create_user("鈴木 美咲")
    now = int(emulator.store.now())
    claims = {
        "iss": "https://access.line.me",
        "sub": user["user_id"],
        "aud": "2000000002",
        "exp": now + 600,
        "iat": now,
        "nonce": "n-abc",
        "amr": ["linesso"],
    }
    token = sign_jwt(claims, emulator.config.channels[0].login_channel_secret)
    good = verify_id_token(emulator, id_token=token, client_id="2000000002", nonce="n-abc")
    assert good.status_code == 200 and good.json()["nonce"] == "n-abc"
    bad = verify_id_token(emulator, id_token=token, client_id="2000000002", nonce="n-xyz")
    assert bad.json()["error_description"] == "Invalid IdToken Nonce."


def _tampered_tokens(token: str) -> dict[str, str]:
    header, payload, signature = token.split(".")
    claims = json.loads(b64decode(payload))
    forged = base64.urlsafe_b64encode(json.dumps({**claims, "name": "なりすまし"}).encode()).rstrip(b"=")
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    return {
        "signature": f"{header}.{payload}.{flipped}",
        "payload": f"{header}.{forged.decode()}.{signature}",
        "wrong secret": sign_jwt(claims, "not-the-login-channel-secret"),
        "unsigned": f"{header}.{payload}.",
        "garbage": "not-a-jwt",
    }


def test_tampered_or_malformed_id_tokens_are_invalid(emulator: RunningEmulator, emu: EmulatorControl) -> None:
    session = opened(emu, emulator)
    for kind, token in _tampered_tokens(session["idToken"]).items():
        answer = verify_id_token(emulator, id_token=token, client_id="2000000002")
        assert answer.status_code == 400, kind
        assert answer.json() == {"error": "invalid_request", "error_description": "Invalid IdToken."}, kind


def test_id_token_from_another_issuer(emulator: RunningEmulator, emu: EmulatorControl) -> None:
    session = opened(emu, emulator)
    claims = {**jwt_parts(session["idToken"])[1], "iss": "https://evil.example"}
    token = sign_jwt(claims, emulator.config.channels[0].login_channel_secret)
    answer = verify_id_token(emulator, id_token=token, client_id="2000000002")
    assert answer.json()["error_description"] == "Invalid IdToken Issuer."


def test_verify_needs_id_token_and_client_id(emulator: RunningEmulator, emu: EmulatorControl) -> None:
    session = opened(emu, emulator)
    for form in ({"client_id": "2000000002"}, {"id_token": session["idToken"]}, {}):
        answer = verify_id_token(emulator, **form)
        assert answer.status_code == 400 and answer.json()["error"] == "invalid_request", form


def test_verify_answers_browsers_with_cors(emulator: RunningEmulator, emu: EmulatorControl) -> None:
    session = opened(emu, emulator)
    answer = httpx.post(
        emulator.config.api_base + "/oauth2/v2.1/verify",
        data={"id_token": session["idToken"], "client_id": "2000000002"},
        headers={"Origin": "https://kairan.example"},
    )
    assert answer.status_code == 200 and answer.headers["access-control-allow-origin"] == "*"


# --- GET /oauth2/v2.1/verify (access token), /v2/profile, /friendship/v1/status --------------


def test_access_token_verifies_and_expires_after_12_hours(
    emulator: RunningEmulator, emu: EmulatorControl
) -> None:
    session = opened(emu, emulator)
    answer = verify_access_token(emulator, session["accessToken"])
    assert answer.status_code == 200 and answer.headers["x-line-request-id"]
    body = answer.json()
    assert body["scope"] == "profile openid chat_message.write" and body["client_id"] == "2000000002"
    assert 43000 < body["expires_in"] <= 43200
    emu.advance_clock(12 * 3600)
    expired = verify_access_token(emulator, session["accessToken"])
    assert expired.status_code == 400
    assert expired.json() == {"error": "invalid_request", "error_description": "access token expired"}
    assert verify_access_token(emulator, "never-issued").status_code == 400
    missing = httpx.get(emulator.config.api_base + "/oauth2/v2.1/verify")
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"


def test_profile_with_the_login_access_token(emulator: RunningEmulator, emu: EmulatorControl) -> None:
    user = emu.create_user(
        "高橋 健太", pictureUrl="https://profile.example/kenta.png", statusMessage="こんにちは"
    )
    session = emu.open_liff(sample_id(emulator), user["user_id"])
    answer = httpx.get(emulator.config.api_base + "/v2/profile", headers=bearer(session["accessToken"]))
    assert answer.status_code == 200 and answer.headers["x-line-request-id"]
    assert answer.json() == {
        "userId": user["user_id"],
        "displayName": "高橋 健太",
        "pictureUrl": "https://profile.example/kenta.png",
        "statusMessage": "こんにちは",
    }
    assert jwt_parts(session["idToken"])[1]["picture"] == "https://profile.example/kenta.png"


def test_profile_refuses_other_tokens(emulator: RunningEmulator, emu: EmulatorControl) -> None:
    session = opened(emu, emulator)
    channel_token = emulator.config.channels[0].access_token
    for token in ("not-a-token", channel_token):
        answer = httpx.get(emulator.config.api_base + "/v2/profile", headers=bearer(token))
        assert answer.status_code == 401 and "Authentication failed" in answer.json()["message"]
    assert httpx.get(emulator.config.api_base + "/v2/profile").status_code == 401
    emu.advance_clock(12 * 3600 + 1)
    answer = httpx.get(emulator.config.api_base + "/v2/profile", headers=bearer(session["accessToken"]))
    assert answer.status_code == 401


def test_friendship_status(emulator: RunningEmulator, emu: EmulatorControl) -> None:
    session = opened(emu, emulator)
    url = emulator.config.api_base + "/friendship/v1/status"
    assert httpx.get(url, headers=bearer(session["accessToken"])).json() == {"friendFlag": False}
    world(emulator, emu).users[session["user"]["user_id"]].is_friend = True
    assert httpx.get(url, headers=bearer(session["accessToken"])).json() == {"friendFlag": True}


def test_revoked_access_token_stops_working(emulator: RunningEmulator, emu: EmulatorControl) -> None:
    session = opened(emu, emulator)
    url = emulator.config.api_base + "/oauth2/v2.1/revoke"
    wrong = httpx.post(url, data={"access_token": session["accessToken"], "client_id": "1234567890"})
    assert wrong.status_code == 400
    answer = httpx.post(url, data={"access_token": session["accessToken"], "client_id": "2000000002"})
    assert answer.status_code == 200
    assert verify_access_token(emulator, session["accessToken"]).status_code == 400
    # The ID token is a signed statement: it stays verifiable until it expires.
    assert verify_id_token(emulator, id_token=session["idToken"], client_id="2000000002").status_code == 200


# --- liff.login() outside the LIFF browser ---------------------------------------------------


def test_login_page_lists_users_and_issues_external_tokens(
    emulator: RunningEmulator, emu: EmulatorControl
) -> None:
    user = emu.create_user("田中 さくら")
    redirect = emulator.url + "/liff-sample/?from=login"
    page = httpx.get(
        f"{emulator.url}/liff-emulator/login", params={"liffId": sample_id(emulator), "redirectUri": redirect}
    )
    assert page.status_code == 200 and "田中 さくら" in page.text and 'lang="ja"' in page.text
    answer = httpx.post(
        f"{emulator.url}/liff-emulator/authorize",
        data={"liffId": sample_id(emulator), "redirectUri": redirect, "user": user["user_id"]},
    )
    assert answer.status_code == 303
    location, _, fragment = answer.headers["location"].partition("#")
    assert location == redirect
    session = json.loads(b64decode(fragment.partition("=")[2]))
    assert session["inClient"] is False and session["context"]["type"] == "external"
    assert "viewType" not in session["context"]
    assert verify_id_token(emulator, id_token=session["idToken"], client_id="2000000002").status_code == 200


def test_login_redirect_must_be_under_the_endpoint(emulator: RunningEmulator, emu: EmulatorControl) -> None:
    answer = httpx.get(
        f"{emulator.url}/liff-emulator/login",
        params={"liffId": sample_id(emulator), "redirectUri": "https://evil.example/liff-sample/"},
    )
    assert answer.status_code == 400 and "エンドポイントURL" in answer.text


# --- POST /message/v3/share (liff.sendMessages) --------------------------------------------------


def _share(emulator: RunningEmulator, token: str, messages: Any) -> httpx.Response:
    return httpx.post(
        emulator.config.api_base + "/message/v3/share", headers=bearer(token), json={"messages": messages}
    )


def test_send_messages_reaches_the_chat_and_the_webhook(
    emulator: RunningEmulator, emu: EmulatorControl
) -> None:
    if importlib.util.find_spec("emulator.events") is None:
        pytest.skip("emulator.events (user_sends) is not in this tree yet")
    receiver = Receiver()
    try:
        emu.channel(webhookUrl=receiver.url, webhookActive=True)
        session = opened(emu, emulator)
        user_id = session["user"]["user_id"]
        emu.follow(user_id)
        messages = [
            {"type": "text", "text": "LIFFから申し込みました"},
            {"type": "flex", "altText": "申込内容", "contents": {"type": "bubble"}},
        ]
        answer = _share(emulator, session["accessToken"], messages)
        assert answer.status_code == 200, answer.text
        emu.drain_webhooks(timeout=10)
        sent = [m.message for m in world(emulator, emu).user_messages if m.user_id == user_id]
        assert sent == [{"type": "text", "text": "LIFFから申し込みました"}, messages[1]]
        texts = [e["message"] for e in receiver.events() if e["type"] == "message"]
        assert [m["text"] for m in texts] == ["LIFFから申し込みました"], "no webhook for Flex from LIFF"
    finally:
        receiver.close()


def test_send_messages_needs_the_liff_browser(emulator: RunningEmulator, emu: EmulatorControl) -> None:
    user = emu.create_user("伊藤 大輔")
    answer = httpx.post(
        f"{emulator.url}/liff-emulator/authorize",
        data={"liffId": sample_id(emulator), "user": user["user_id"]},
    )
    fragment = answer.headers["location"].partition("#")[2]
    external = json.loads(b64decode(fragment.partition("=")[2]))
    refused = _share(emulator, external["accessToken"], [{"type": "text", "text": "こんにちは"}])
    assert refused.status_code == 403
    assert refused.json()["message"] == "user doesn't grant required permissions yet"
    assert refused.headers["x-line-request-id"]
    assert _share(emulator, "not-a-token", [{"type": "text", "text": "x"}]).status_code == 401


def test_send_messages_validates_like_liff(emulator: RunningEmulator, emu: EmulatorControl) -> None:
    session = opened(emu, emulator)
    token = session["accessToken"]
    too_many = _share(emulator, token, [{"type": "text", "text": str(n)} for n in range(6)])
    assert too_many.status_code == 400 and too_many.json()["details"][0]["property"] == "messages"
    postback = {
        "type": "template",
        "altText": "確認",
        "template": {"type": "buttons", "text": "確認", "actions": [{"type": "postback", "data": "a=1"}]},
    }
    answer = _share(emulator, token, [postback, {"type": "text", "text": "x", "quoteToken": "q"}])
    assert answer.status_code == 400
    properties = {d["property"] for d in answer.json()["details"]}
    assert properties == {"messages[0].template.actions[0]", "messages[1].quoteToken"}
    imagemap = _share(emulator, token, [{"type": "imagemap"}])
    assert imagemap.json()["details"][0]["property"] == "messages[0].type"
    assert not world(emulator, emu).user_messages, "nothing is sent when validation fails"


# --- the LIFF server API through line-bot-sdk ----------------------------------------------------


def test_liff_app_crud(liff_api: Liff, emulator: RunningEmulator, emu: EmulatorControl) -> None:
    created = liff_api.add_liff_app(
        AddLiffAppRequest(
            view=LiffView(type="tall", url="https://kairan.example/liff/reserve"),
            description="予約",
            scope=[LiffScope.OPENID, LiffScope.PROFILE],
            botPrompt="normal",
        )
    )
    assert LIFF_ID.match(created.liff_id)
    apps = {app.liff_id: app for app in liff_api.get_all_liff_apps().apps}
    assert set(apps) == {sample_id(emulator), created.liff_id}
    app = apps[created.liff_id]
    assert app.view.type == "tall" and app.view.url == "https://kairan.example/liff/reserve"
    assert app.description == "予約" and app.bot_prompt == "normal" and app.permanent_link_pattern == "concat"
    assert {s.value for s in app.scope} == {"openid", "profile"}
    assert emu.channel()["liffApps"][created.liff_id] == "https://kairan.example/liff/reserve"

    liff_api.update_liff_app(
        created.liff_id,
        UpdateLiffAppRequest(view=UpdateLiffView(type="full", url="https://kairan.example/liff/r2")),
    )
    updated = next(a for a in liff_api.get_all_liff_apps().apps if a.liff_id == created.liff_id)
    assert updated.view.type == "full" and updated.view.url == "https://kairan.example/liff/r2"
    assert updated.description == "予約", "an update changes only what it names"

    liff_api.delete_liff_app(created.liff_id)
    assert [a.liff_id for a in liff_api.get_all_liff_apps().apps] == [sample_id(emulator)]
    liff_api.delete_liff_app(sample_id(emulator))
    with pytest.raises(ApiException) as excinfo:
        liff_api.get_all_liff_apps()
    assert excinfo.value.status == 404


def test_app_added_through_the_api_opens_with_its_scope(
    liff_api: Liff, emulator: RunningEmulator, emu: EmulatorControl
) -> None:
    """Without a scope the API gives profile and chat_message.write: no openid, so no ID token."""
    created = liff_api.add_liff_app(
        AddLiffAppRequest(view=LiffView(type="compact", url="https://kairan.example/liff/"))
    )
    user = emu.create_user("渡辺 結衣")
    session = emu.open_liff(created.liff_id, user["user_id"])
    assert session["location"] == "https://kairan.example/liff/"
    assert session["idToken"] is None and session["context"]["viewType"] == "compact"
    assert (
        verify_access_token(emulator, session["accessToken"]).json()["scope"] == "profile chat_message.write"
    )


def test_liff_api_errors(liff_api: Liff, emulator: RunningEmulator, emu: EmulatorControl) -> None:
    for liff_id in ("2000000002-nothere1", "0000000000-abcdefgh"):
        with pytest.raises(ApiException) as excinfo:
            liff_api.update_liff_app(liff_id, UpdateLiffAppRequest(description="x"))
        assert excinfo.value.status == 404
        with pytest.raises(ApiException) as excinfo:
            liff_api.delete_liff_app(liff_id)
        assert excinfo.value.status == 404
    bad_requests = {
        "view.url": {"view": {"type": "full", "url": "http://kairan.example/liff"}},
        "description": {"view": {"type": "full", "url": "https://a.example/"}, "description": "LINE予約"},
        "scope": {"view": {"type": "full", "url": "https://a.example/"}, "scope": ["everything"]},
        "view.type": {"view": {"type": "huge", "url": "https://a.example/"}},
    }
    token = emulator.config.channels[0].access_token
    for prop, body in bad_requests.items():
        answer = httpx.post(emulator.config.api_base + "/liff/v1/apps", headers=bearer(token), json=body)
        assert answer.status_code == 400, prop
        assert [d["property"] for d in answer.json()["details"]] == [prop]
    fragment = {"view": {"type": "full", "url": "https://a.example/#top"}}
    answer = httpx.post(emulator.config.api_base + "/liff/v1/apps", headers=bearer(token), json=fragment)
    assert answer.status_code == 400 and "fragment" in answer.json()["details"][0]["message"]
    online = {"view": {"type": "full", "url": "http://localhost:8000/liff/"}, "description": "オンライン申請"}
    answer = httpx.post(emulator.config.api_base + "/liff/v1/apps", headers=bearer(token), json=online)
    assert answer.status_code == 200, "local http endpoints and names like オンライン are accepted"


def test_liff_api_needs_a_valid_channel_token(emulator: RunningEmulator, emu: EmulatorControl) -> None:
    session = opened(emu, emulator)
    for token in ("not-a-token", session["accessToken"]):
        config = Configuration(host=emulator.config.api_base, access_token=token)
        with ApiClient(config) as client, pytest.raises(ApiException) as excinfo:
            Liff(client).get_all_liff_apps()
        assert excinfo.value.status == 401


def test_at_most_30_liff_apps(liff_api: Liff, emu: EmulatorControl) -> None:
    for n in range(29):  # the sample app is the 30th
        liff_api.add_liff_app(AddLiffAppRequest(view=LiffView(type="full", url=f"https://a.example/{n}")))
    with pytest.raises(ApiException) as excinfo:
        liff_api.add_liff_app(AddLiffAppRequest(view=LiffView(type="full", url="https://a.example/31")))
    assert excinfo.value.status == 400


def test_another_channels_app_is_404(emulator: RunningEmulator, emu: EmulatorControl) -> None:
    second = {
        "channel_id": "2000000101",
        "access_token": "second-channel-token",
        "login_channel_id": "2000000102",
        "login_channel_secret": "second-login-secret",
        "bot_user_id": "U00000000000000000000000000000b02",
    }
    assert httpx.post(emulator.url + "/control/channels", json=second).status_code == 200
    config = Configuration(host=emulator.config.api_base, access_token="second-channel-token")
    with ApiClient(config) as client:
        liff = Liff(client)
        with pytest.raises(ApiException) as excinfo:
            liff.delete_liff_app(sample_id(emulator))
        assert excinfo.value.status == 404
        created = liff.add_liff_app(AddLiffAppRequest(view=LiffView(type="full", url="https://b.example/")))
    assert created.liff_id.startswith("2000000102-")
    # Its ID tokens are for its own Login channel.
    other = EmulatorControl(emulator.url, channel_id="2000000101")
    user = other.create_user("中村 翔")
    session = other.open_liff(created.liff_id, user["user_id"])
    assert session["idToken"] is None  # API default scope: no openid
    assert verify_access_token(emulator, session["accessToken"]).json()["client_id"] == "2000000102"
    other.close()


# --- persistence ---------------------------------------------------------------------------------


def test_login_tokens_and_app_settings_survive_a_restart(tmp_path: Path) -> None:
    from emulator.liff_login import issue_login

    config = EmulatorConfig(port=free_port(), state_file=tmp_path / "state.json")
    store = Store(config)
    channel = store.default_channel()
    channel.liff_apps["2000000002-abcdefgh"] = "https://kairan.example/liff/"
    channel.liff_app_settings["2000000002-abcdefgh"] = {"view": {"type": "tall"}, "scope": ["openid"]}
    user = store.create_user(channel, display_name="保存 花子")
    token, id_token = issue_login(store, channel, user, "2000000002-abcdefgh", context_type="utou")
    assert id_token is not None
    store.save()
    loaded = Store(config)
    assert loaded.load()
    again = loaded.default_channel()
    assert again.login_tokens[token.token] == token
    assert again.liff_app_settings["2000000002-abcdefgh"]["view"] == {"type": "tall"}
