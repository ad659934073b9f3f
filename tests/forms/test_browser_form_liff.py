"""In a real browser: the city sends a resident a LIFF link to a form that needs their identity
(``https://liff.line.me/{liffId}/<page path>``); in the phone simulator the form opens in the
in-app browser, LINE (the emulator) vouches for the resident, and the answer is stored as theirs."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from emulator.client import EmulatorControl
from home.forms.models import FormPageSubmission
from home.models import FormPage
from line_channel.gateway import Gateway
from tests.forms.conftest import block
from tests.line.conftest import line_channel  # noqa: F401 - fixture
from tests.line.test_browser_liff import LIFF_URL, kairan_liff, phone  # noqa: F401 - fixtures
from tests.line.test_liff import befriend

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_a_resident_answers_a_form_opened_from_a_liff_link(
    phone: Any,  # noqa: F811 - the imported fixture
    kairan_liff: str,  # noqa: F811 - the imported fixture
    emu: EmulatorControl,
    make_form: Callable[..., FormPage],
) -> None:
    page = make_form(
        [block("singleline", 1, label="ニックネーム", required=True, max_length=20)],
        requires_line_identity=True,
    )
    resident = str(emu.create_user("大船渡 花子")["user_id"])
    befriend(emu, resident)
    link = LIFF_URL + page.url
    with Gateway.from_settings() as gateway:
        gateway.push(
            to=resident,
            messages=[{"type": "text", "text": f"お申込みはこちら\n{link}"}],
            retry_key=str(uuid.uuid4()),
        )

    phone.goto(f"/?user={resident}")
    phone.get_by_role("link", name=link).click()
    app = phone.frame_locator("#browser-frame")
    app.get_by_label("ニックネーム").fill("はなちゃん")
    app.get_by_role("button", name="送信する").click()
    expect(app.get_by_text("送信しました")).to_be_visible()
    frame = next(f for f in phone.frames if f.url.startswith(kairan_liff))
    assert frame.url.startswith(kairan_liff + "/liff" + page.url)
    submission = FormPageSubmission.objects.get()
    assert submission.line_user_id == resident
    assert list(submission.answers.values()) == ["はなちゃん"]
    assert phone.console_errors == []
