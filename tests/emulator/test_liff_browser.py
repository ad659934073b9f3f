"""The LIFF shim in Chromium: the sample LIFF page opened as the simulator opens it, and as an
external browser opens it (liff.login()), with the ID token checked by the verify endpoint."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from emulator.client import EmulatorControl
from emulator.server import RunningEmulator

pytestmark = pytest.mark.browser


def sample_id(emulator: RunningEmulator) -> str:
    return f"{emulator.config.channels[0].login_channel_id}-sample01"


@pytest.fixture
def tab(browser: Any, emulator: RunningEmulator, emu: EmulatorControl) -> Iterator[Any]:
    """A phone-sized Japanese tab that records console errors and uncaught exceptions."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="ja-JP")
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(f"uncaught: {error}"))
    page.console_errors = errors
    yield page
    context.close()


def test_sample_page_in_the_liff_browser(tab: Any, emulator: RunningEmulator, emu: EmulatorControl) -> None:
    user = emu.create_user("山田 花子")
    tab.goto(f"{emulator.url}/liff/{sample_id(emulator)}?user={user['user_id']}")
    expect(tab.locator("#display-name")).to_have_text("山田 花子")
    expect(tab.locator("#status")).to_have_text("山田 花子 さんとしてログインしています。")
    expect(tab.locator("#id-token-name")).to_have_text("山田 花子")
    expect(tab.locator("#in-client")).to_have_text("はい")
    assert tab.url == emulator.url + "/liff-sample/", "the credentials fragment is removed"
    assert tab.evaluate("liff.isInClient()") is True
    assert tab.evaluate("liff.isLoggedIn()") is True
    assert tab.evaluate("liff.id") == sample_id(emulator)
    assert tab.evaluate("liff.getOS()") == "web"
    assert tab.evaluate("typeof liff.getVersion()") == "string"
    context = tab.evaluate("liff.getContext()")
    assert context["type"] == "utou" and context["userId"] == user["user_id"]
    assert context["viewType"] == "full" and context["liffId"] == sample_id(emulator)
    profile = tab.evaluate("liff.getProfile()")
    assert profile == {"userId": user["user_id"], "displayName": "山田 花子"}
    assert tab.evaluate("liff.ready.then(() => 'ready')") == "ready"

    id_token = tab.evaluate("liff.getIDToken()")
    verified = httpx.post(
        emulator.config.api_base + "/oauth2/v2.1/verify",
        data={"id_token": id_token, "client_id": "2000000002"},
    )
    assert verified.status_code == 200
    assert verified.json()["sub"] == user["user_id"] and verified.json()["name"] == "山田 花子"
    assert tab.evaluate("liff.getDecodedIDToken()") == verified.json()
    access = httpx.get(
        emulator.config.api_base + "/oauth2/v2.1/verify",
        params={"access_token": tab.evaluate("liff.getAccessToken()")},
    )
    assert access.status_code == 200 and access.json()["client_id"] == "2000000002"

    # A reload keeps the login (sessionStorage), as the LIFF browser does.
    tab.reload()
    expect(tab.locator("#display-name")).to_have_text("山田 花子")
    assert tab.console_errors == []


def test_liff_errors_in_the_browser(tab: Any, emulator: RunningEmulator, emu: EmulatorControl) -> None:
    user = emu.create_user("佐藤 一郎")  # not a friend
    tab.goto(f"{emulator.url}/liff/{sample_id(emulator)}?user={user['user_id']}")
    expect(tab.locator("#display-name")).to_have_text("佐藤 一郎")
    assert tab.evaluate("liff.init({}).catch(e => [e.name, e.code, e.message])") == [
        "LiffError",
        "INVALID_CONFIG",
        "liffId is necessary for liff.init()",
    ]
    assert tab.evaluate("liff.init({liffId: '2000000002-unknown1'}).catch(e => e.code)") == "INIT_FAILED"
    assert tab.evaluate("liff.sendMessages('hello').catch(e => e.code)") == "INVALID_ARGUMENT"
    tab.evaluate("liff.logout()")
    assert tab.evaluate("liff.isLoggedIn()") is False and tab.evaluate("liff.getIDToken()") is None
    assert tab.evaluate("liff.getProfile().catch(e => [e.code, e.message])") == [
        "UNAUTHORIZED",
        "Need access_token for api call, Please login first",
    ]
    # Only the browser's own report of the 404 for the unknown LIFF id.
    assert all("404" in error for error in tab.console_errors), tab.console_errors


def test_send_to_the_chat_from_the_sample(tab: Any, emulator: RunningEmulator, emu: EmulatorControl) -> None:
    if importlib.util.find_spec("emulator.events") is None:
        pytest.skip("emulator.events (user_sends) is not in this tree yet")
    user = emu.create_user("鈴木 美咲")
    emu.follow(user["user_id"])
    tab.goto(f"{emulator.url}/liff/{sample_id(emulator)}?user={user['user_id']}")
    expect(tab.locator("#display-name")).to_have_text("鈴木 美咲")
    tab.get_by_label("トークに送るメッセージ").fill("回覧板を読みました")
    tab.get_by_role("button", name="トークに送る").click()
    expect(tab.locator("#status")).to_have_text("トークに送りました。")
    channel = emulator.store.channel(emu.channel_id)
    assert channel is not None
    sent = [m.message for m in channel.user_messages if m.user_id == user["user_id"]]
    assert sent == [{"type": "text", "text": "回覧板を読みました"}]
    assert tab.console_errors == []


def test_close_in_the_simulator_frame(tab: Any, emulator: RunningEmulator, emu: EmulatorControl) -> None:
    """In the simulator's in-app browser (an iframe), 閉じる posts liff.closeWindow to the simulator
    and the LIFF access token is revoked, as when a LIFF app is closed on LINE."""
    user = emu.create_user("高橋 健太")
    # A page of the emulator's origin stands in for the simulator.
    tab.goto(f"{emulator.url}/liff-emulator/login?liffId={sample_id(emulator)}")
    tab.evaluate(
        """src => {
            window.closed_by_liff = [];
            window.addEventListener("message", event => window.closed_by_liff.push(event.data));
            const frame = document.createElement("iframe");
            frame.title = "LIFF";
            frame.src = src;
            document.body.append(frame);
        }""",
        f"/liff/{sample_id(emulator)}?user={user['user_id']}",
    )
    frame = tab.frame_locator("iframe[title=LIFF]")
    expect(frame.locator("#display-name")).to_have_text("高橋 健太")
    liff_frame = next(f for f in tab.frames if f.url.endswith("/liff-sample/"))
    access_token = liff_frame.evaluate("liff.getAccessToken()")
    frame.get_by_role("button", name="閉じる").click()
    tab.wait_for_function("window.closed_by_liff.length > 0")
    assert tab.evaluate("window.closed_by_liff") == [
        {"type": "liff.closeWindow", "liffId": sample_id(emulator)}
    ]
    verify = emulator.config.api_base + "/oauth2/v2.1/verify"
    for _ in range(50):
        if httpx.get(verify, params={"access_token": access_token}).status_code == 400:
            break
        tab.wait_for_timeout(100)
    assert httpx.get(verify, params={"access_token": access_token}).status_code == 400
    assert tab.console_errors == []


def test_external_browser_logs_in_with_liff_login(
    tab: Any, emulator: RunningEmulator, emu: EmulatorControl
) -> None:
    user = emu.create_user("田中 さくら")
    tab.goto(f"{emulator.url}/liff/{sample_id(emulator)}")
    expect(tab.locator("#status")).to_have_text("ログインしていません。")
    expect(tab.locator("#in-client")).to_have_text("いいえ")
    assert tab.evaluate("liff.getProfile().catch(e => e.code)") == "UNAUTHORIZED"
    tab.get_by_role("button", name="ログイン").click()
    expect(tab.get_by_role("heading", name="LINEログイン")).to_be_visible()
    tab.get_by_label(f"田中 さくら ({user['user_id']})").check()
    tab.get_by_role("button", name="ログイン").click()
    expect(tab.locator("#display-name")).to_have_text("田中 さくら")
    expect(tab.locator("#in-client")).to_have_text("いいえ")
    assert tab.evaluate("liff.getContext().type") == "external"
    assert tab.evaluate("liff.sendMessages([{type: 'text', text: 'x'}]).catch(e => [e.code, e.message])") == [
        "403",
        "user doesn't grant required permissions yet",
    ]
    # The refused call is reported by the browser as a failed resource load, nothing else.
    assert all("403" in error for error in tab.console_errors), tab.console_errors


def test_query_added_to_the_liff_url_reaches_the_page(
    tab: Any, emulator: RunningEmulator, emu: EmulatorControl
) -> None:
    user = emu.create_user("伊藤 大輔")
    tab.goto(f"{emulator.url}/liff/{sample_id(emulator)}/?notice=42&user={user['user_id']}")
    expect(tab.locator("#display-name")).to_have_text("伊藤 大輔")
    tab.wait_for_url(emulator.url + "/liff-sample/?notice=42")
    assert tab.console_errors == []
