"""In a real browser, through the phone simulator: a virtual resident adds the city's account as a
friend, taps the button of マイページの案内 that arrives, agrees to the terms on My Page (opened
inside LINE, identified by LINE), registers two districts and three topics, changes them and
deletes them. My Page passes axe (WCAG 2.1 AA) at 320 px wide and with 200% text. A システム管理者
then sees each change in the resident's history in the admin.

Webhooks go from the emulator to the live server; the Django-Q stand-in thread of
``tests/line/test_browser_followers.py`` processes the follow and sends the invitation through the
outbox, as a cluster would.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from emulator.client import EmulatorControl
from emulator.server import RunningEmulator
from residents.models import AttributeChange, AttributeFormPage, ResidentAttributes
from tests.conftest import sign_in_as_system_admin
from tests.line.conftest import line_channel, webhook_to  # noqa: F401 - fixtures
from tests.line.test_browser_followers import queue_worker  # noqa: F401 - fixture
from tests.line.test_browser_liff import SCREENSHOTS, kairan_liff, phone  # noqa: F401 - fixtures
from tests.test_browser_a11y import assert_accessible

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def group(app: Any, label: str) -> Any:
    """The fieldset of a form item, by the start of its legend (the legend also says 必須/任意)."""
    return app.get_by_role("group", name=re.compile(f"^{label}"))


def check_accessible_at_320_and_200_percent(simulator: Any, url: str) -> None:
    """Open ``url`` in another tab of the simulator's browser (same cookies: the resident's session)."""
    tab = simulator.context.new_page()
    try:
        tab.set_viewport_size({"width": 320, "height": 640})
        tab.goto(url)
        expect(tab.get_by_role("heading", name="マイページ", level=1)).to_be_visible()
        assert float(tab.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")) >= 16
        assert tab.evaluate("document.documentElement.scrollWidth") <= 320
        assert_accessible(tab)
        tab.evaluate("document.documentElement.style.fontSize = '200%'")
        assert tab.evaluate("document.documentElement.scrollWidth") <= 320, "no sideways scrolling at 200%"
        assert_accessible(tab)
    finally:
        tab.close()


def test_a_resident_registers_changes_and_deletes_settings_in_my_page(
    phone: Any,  # noqa: F811 - the imported fixture
    page: Any,
    kairan_liff: str,  # noqa: F811 - the imported fixture
    emu: EmulatorControl,
    line_emulator: RunningEmulator,
    webhook_to: Any,  # noqa: F811 - the imported fixture
    queue_worker: list[str],  # noqa: F811 - the imported fixture
    attribute_page: AttributeFormPage,
    make_staff: Any,
) -> None:
    webhook_to(kairan_liff)

    # A resident adds the account as a friend; the invitation arrives in the talk.
    phone.goto("/")
    phone.get_by_label("新しい住民の表示名").fill("大船渡 花子")
    phone.get_by_role("button", name="住民を作成").click()
    expect(phone.locator("#sim-message")).to_have_text("住民「大船渡 花子」を作成しました。")
    phone.get_by_role("button", name="友だち追加").click()
    expect(phone.locator("#friend-state")).to_have_text("友だちです")
    invite = phone.get_by_role("button", name="マイページで登録する")
    expect(invite).to_be_visible(timeout=20_000)
    invite.click()

    # My Page inside LINE: first the purpose notice and the agreement.
    app = phone.frame_locator("#browser-frame")
    expect(app.get_by_role("heading", name="はじめに")).to_be_visible()
    expect(app.locator("#liff-display-name")).to_have_text("大船渡 花子")
    expect(app.locator("#mypage-purpose")).to_contain_text("暗号化して保存")
    consent_url = next(f for f in phone.frames if f.url.startswith(kairan_liff)).url
    check_accessible_at_320_and_200_percent(phone, consent_url)
    app.get_by_role("button", name="同意して進む").click()
    expect(app.get_by_role("alert")).to_contain_text("チェックを入れてから")
    expect(app.get_by_role("alert")).to_be_focused()
    app.get_by_label(re.compile("^利用規約とプライバシーポリシー")).check()
    app.get_by_role("button", name="同意して進む").click()

    # The 受信設定 form: two districts (home and one more for work) ... three topics.
    expect(app.get_by_role("heading", name="受信設定", level=1)).to_be_visible()
    group(app, "性別").get_by_label("女性").check()
    app.get_by_label("生まれ年").select_option("1987")
    group(app, "お住まいの地区").get_by_label("盛町").check()
    group(app, "勤務先・通学先の地区").get_by_label("大船渡町").check()
    group(app, "勤務先・通学先の地区").get_by_label("末崎町").check()
    for topic in ("防災・防犯", "クマ出没情報", "子育て"):
        group(app, "受け取りたい情報").get_by_label(topic).check()
    app.get_by_role("button", name="送信する").click()
    expect(app.get_by_role("status")).to_contain_text("送信しました")
    app.get_by_role("link", name="マイページへ戻る").click()

    settings = app.locator("#mypage-settings")
    expect(settings).to_contain_text("盛町")
    expect(settings).to_contain_text("大船渡町、末崎町")
    expect(settings).to_contain_text("防災・防犯、クマ出没情報、子育て")
    expect(settings).to_contain_text("1987年")
    frame = next(f for f in phone.frames if f.url.startswith(kairan_liff))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    phone.locator("#browser").screenshot(path=str(SCREENSHOTS / "mypage.png"))
    check_accessible_at_320_and_200_percent(phone, frame.url)

    # Changing: the form comes back filled in.
    app.get_by_role("link", name="受信設定を変更する").click()
    expect(group(app, "お住まいの地区").get_by_label("盛町")).to_be_checked()
    group(app, "お住まいの地区").get_by_label("末崎町").check()
    group(app, "受け取りたい情報").get_by_label("子育て").uncheck()
    group(app, "勤務先・通学先の地区").get_by_label("大船渡町").uncheck()
    app.get_by_role("button", name="送信する").click()
    # (the form page has a マイページへ戻る link too: wait for the landing page first)
    expect(app.get_by_role("status")).to_contain_text("送信しました")
    app.get_by_role("link", name="マイページへ戻る").click()
    expect(settings).to_contain_text("防災・防犯、クマ出没情報")
    expect(settings).not_to_contain_text("子育て")

    # Deleting, after a confirmation.
    app.get_by_role("link", name="受信設定を削除する").click()
    expect(app.get_by_role("heading", name="受信設定の削除")).to_be_visible()
    app.get_by_role("button", name="削除する").click()
    expect(app.get_by_role("status")).to_contain_text("受信設定を削除しました")
    expect(app.get_by_text("まだ登録していません")).to_be_visible()
    number = app.locator("#mypage-number").inner_text()
    assert phone.console_errors == []

    row = ResidentAttributes.objects.get()
    assert row.current == {}
    assert [c.kind for c in AttributeChange.objects.filter(resident=row).order_by("pk")] == [
        "created",
        "changed",
        "deleted",
    ]

    # A システム管理者 opens the resident from the friends list and sees each change.
    sign_in_as_system_admin(page, make_staff)
    page.goto("/admin/line/followers/")
    page.get_by_role("link", name="大船渡 花子").click()
    expect(page.locator("#resident-number")).to_have_text(number)
    history = page.locator("#resident-history tbody tr")
    expect(history).to_have_count(3)
    expect(history.nth(0)).to_contain_text("登録")
    expect(history.nth(0)).to_contain_text("本人")
    expect(history.nth(1)).to_contain_text("変更")
    expect(history.nth(1)).to_contain_text("お住まいの地区")
    expect(history.nth(2)).to_contain_text("削除")
    expect(page.get_by_text("第1版")).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "resident-detail.png"), full_page=True)
    assert page.csp_violations == []
