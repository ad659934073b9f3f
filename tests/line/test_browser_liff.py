"""In a real browser: a resident taps the link to Kairan's LIFF app in the phone simulator's talk,
the app opens in the simulator's in-app browser (an iframe) and Kairan's page, after asking LINE
(the emulator) who the resident is, shows their own LINE display name. Then another resident
opens the app in the same browser: the page notices that LINE's user is not the session's and
identifies the new resident.

Kairan (the live server) is addressed as 127.0.0.1 like the emulator: the in-app browser is an
iframe, and the session cookie (SameSite=Lax) is sent inside it only when both are on the same
site, as they are in ``make run``. On LINE the LIFF browser is no frame, and the question does
not arise.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from emulator.client import EmulatorControl
from emulator.server import RunningEmulator
from line_channel.gateway import Gateway
from tests.line.test_liff import LIFF_ID, befriend

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

LIFF_URL = f"https://liff.line.me/{LIFF_ID}"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


@pytest.fixture
def kairan_liff(
    live_server: Any, line_emulator: RunningEmulator, emu: EmulatorControl, line_channel: Any, settings: Any
) -> str:
    """Kairan's LIFF app on the emulator, its pages loading the shim and framable by the simulator."""
    kairan = live_server.url.replace("localhost", "127.0.0.1")
    settings.KAIRAN_LIFF_ID = LIFF_ID
    settings.KAIRAN_LIFF_SDK_URL = line_emulator.url + "/static/liff-shim.js"
    settings.KAIRAN_LIFF_FRAME_ANCESTORS = [line_emulator.url]
    emu.channel(liffApps={LIFF_ID: kairan + "/liff/"})
    return kairan


@pytest.fixture
def phone(browser: Any, line_emulator: RunningEmulator) -> Iterator[Any]:
    """The phone simulator in a phone-sized Japanese tab; console errors (CSP ones too) recorded."""
    context = browser.new_context(
        viewport={"width": 430, "height": 900}, locale="ja-JP", base_url=line_emulator.url
    )
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    errors: list[str] = []
    tab.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    tab.on("pageerror", lambda error: errors.append(f"uncaught: {error}"))
    tab.console_errors = errors
    yield tab
    context.close()


def send_link(user_id: str) -> None:
    """The city's account sends the resident the LIFF URL (through Kairan's gateway)."""
    with Gateway.from_settings() as gateway:
        gateway.push(
            to=user_id,
            messages=[{"type": "text", "text": f"マイページはこちら\n{LIFF_URL}"}],
            retry_key=str(uuid.uuid4()),
        )


def test_a_resident_sees_their_own_name_in_the_liff_app(
    phone: Any, kairan_liff: str, emu: EmulatorControl, live_server: Any
) -> None:
    hanako = str(emu.create_user("大船渡 花子")["user_id"])
    taro = str(emu.create_user("陸前 太郎")["user_id"])
    for user_id in (hanako, taro):
        befriend(emu, user_id)
        send_link(user_id)

    phone.goto(f"/?user={hanako}")
    expect(phone.locator("#friend-state")).to_have_text("友だちです")
    phone.get_by_role("link", name=LIFF_URL).click()
    app = phone.frame_locator("#browser-frame")
    expect(app.get_by_role("heading", name="マイページ")).to_be_visible()
    expect(app.locator("#liff-display-name")).to_have_text("大船渡 花子")
    frame = next(f for f in phone.frames if f.url.startswith(kairan_liff))
    assert frame.url == kairan_liff + "/liff/", "the credentials fragment is gone"
    assert frame.evaluate("document.getElementById('kairan-liff').dataset.state") == "identified"
    assert frame.evaluate("liff.isInClient()") is True
    # Base text size for residents: at least 16px.
    assert float(frame.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")) >= 16
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    phone.locator("#browser").screenshot(path=str(SCREENSHOTS / "liff-mypage.png"))

    # A reload keeps the identity: the page is rendered at once, without asking again.
    frame.evaluate("location.reload()")
    expect(app.locator("#liff-display-name")).to_have_text("大船渡 花子")
    phone.get_by_role("button", name="閉じる", exact=True).click()
    expect(phone.locator("#browser")).to_be_hidden()

    # Another resident on the same phone (same cookies): LINE's user is not the session's.
    phone.goto(f"/?user={taro}")
    expect(phone.locator("#friend-state")).to_have_text("友だちです")
    phone.get_by_role("link", name=LIFF_URL).click()
    expect(app.locator("#liff-display-name")).to_have_text("陸前 太郎")
    frame = next(f for f in phone.frames if f.url.startswith(kairan_liff))
    assert frame.evaluate("document.getElementById('kairan-liff').dataset.user") == taro

    assert phone.console_errors == []


def test_an_expired_token_shows_the_japanese_message(
    phone: Any, kairan_liff: str, emu: EmulatorControl
) -> None:
    user_id = str(emu.create_user("期限 切子")["user_id"])
    emu.follow(user_id)
    send_link(user_id)
    phone.goto(f"/?user={user_id}")
    expect(phone.locator("#friend-state")).to_have_text("友だちです")
    phone.get_by_role("link", name=LIFF_URL).click()
    app = phone.frame_locator("#browser-frame")
    expect(app.get_by_role("heading", name="マイページ")).to_be_visible()
    frame = next(f for f in phone.frames if f.url.startswith(kairan_liff))

    # An hour later (LINE's clock) the session's identity has ended; the page still holds the
    # ID token LINE gave it when it was opened.
    emu.advance_clock(3601)
    frame.evaluate(
        """() => fetch("/liff/session/end/", {method: "POST", credentials: "same-origin",
            headers: {"X-CSRFToken": document.getElementById("kairan-liff").dataset.csrfToken}})"""
    )
    frame.evaluate("location.reload()")
    alert = app.get_by_role("alert")
    expect(alert).to_have_text("LINE の認証の有効期限が切れました。ページを開き直してください。")
    expect(app.get_by_role("button", name="もう一度試す")).to_be_visible()
    expect(app.get_by_role("button", name="閉じる")).to_be_visible()
    expect(app.get_by_role("heading", name="マイページ")).to_have_count(0)
    # Only the browser's own report of the refused POST (401).
    assert all("401" in error for error in phone.console_errors), phone.console_errors
