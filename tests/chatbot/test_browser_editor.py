"""A 担当者 builds a scenario with the page editor, in a real browser: a 3-level subtree of answer
pages in their department's section, sent as a draft to a tester (who walks it in LINE and sees the
drafts), submitted for approval; a 承認者 publishes it; a later edit is rolled back with Wagtail's
revision history, and residents get the restored answer."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect
from wagtail.models import Page

from chatbot.models import AnswerPage
from deliveries.models import Tester
from emulator.client import EmulatorControl
from home.models import StandardPage
from kairan.staff.permissions import create_department
from kairan.staff.roles import APPROVER, EDITOR
from line_channel.models import Follower
from tests.chatbot.conftest import deliver
from tests.conftest import sign_in_with_totp
from tests.deliveries.test_browser_delivery import open_action_menu, staff_with_app
from tests.line.test_browser_followers import queue_worker  # noqa: F401 - fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]
STREAM = "#body-root"


def add_answer(page: Any, parent: int, title: str, text: str) -> int:
    """Add an answer page under ``parent`` in the page editor and save it as a draft; its id."""
    page.goto(f"/admin/pages/{parent}/")
    page.get_by_role("link", name="子ページを追加").first.click()
    page.wait_for_url(re.compile(r".*/admin/pages/(\d+/add_subpage|add/chatbot/answerpage/\d+)/$"))
    if "add_subpage" in page.url:  # (a page that allows several types asks which one)
        page.get_by_role("link", name="チャットボットの回答").first.click()
        page.wait_for_url("**/admin/pages/add/chatbot/answerpage/**")
    page.locator("#id_title").fill(title)
    page.locator(f"{STREAM} .c-sf-add-button").last.click()
    page.get_by_role("option", name="テキスト", exact=True).click()
    page.locator("#body-0-value").fill(text)
    page.get_by_role("button", name="下書きを保存").click()
    page.wait_for_url(re.compile(r".*/admin/pages/\d+/edit/$"))
    return int(page.url.rstrip("/").split("/")[-2])


def test_a_scenario_from_the_page_tree_to_residents_and_back_one_revision(
    page: Any,
    browser: Any,
    live_server: Any,
    make_staff: Callable[..., Any],
    emu: EmulatorControl,
    line_channel: Any,
    queue_worker: list[str],  # noqa: F811 - the fixture
    settings: Any,
) -> None:
    settings.WAGTAIL_AUTOSAVE_INTERVAL = 0
    section = Page.objects.get(depth=2).add_child(
        instance=StandardPage(title="くらしの手続き", slug="tetsuzuki")
    )
    section.save_revision().publish()
    create_department(name="市民課", section=section)
    author = staff_with_app(make_staff, "tanto", EDITOR)
    author.groups.add(*author.groups.model.objects.filter(name="市民課"))
    approver = staff_with_app(make_staff, "shonin", APPROVER)
    tester = emu.create_user("市民課 職員")["user_id"]
    deliver(emu.follow(tester))
    Tester.objects.create(follower=Follower.objects.get(line_user_id=tester), label="市民課 職員")

    # The 担当者 builds three levels in the page tree.
    sign_in_with_totp(page, author)
    top = add_answer(page, section.pk, "転入・転出", "転入・転出の手続きをご案内します。")
    moving_in = add_answer(page, top, "転入届", "転入届は、引っ越してから14日以内に市民課へ出してください。")
    add_answer(page, moving_in, "必要なもの", "前の住所の転出証明書と本人確認書類をお持ちください。")
    assert not any(p.live for p in AnswerPage.objects.all())

    # … sends the draft to the tester, who walks it in LINE and sees the drafts.
    page.goto(f"/admin/pages/{top}/edit/")
    open_action_menu(page)
    page.get_by_role("button", name="テスターに送る（保存済みの内容）").click()
    expect(page.locator(".messages")).to_contain_text("テスター 1 人")
    (sent,) = (entry["message"] for entry in emu.received(tester))
    assert sent["text"] == "転入・転出の手続きをご案内します。"
    (choice,) = (item["action"] for item in sent["quickReply"]["items"])
    assert (choice["label"], choice["data"]) == ("転入届", f"chatbot={moving_in}&draft=1")
    deliver(emu.perform(tester, choice))
    assert emu.received(tester)[-1]["message"]["text"].startswith("転入届は、引っ越してから14日以内に")

    # … and asks for approval of the scenario's first page.
    open_action_menu(page)
    page.get_by_role("button", name=re.compile("に提出する$")).click()
    expect(page.locator(".messages")).to_contain_text("転入・転出")

    # The 承認者 publishes the scenario with its pages, from the page listing.
    context = browser.new_context(
        viewport={"width": 1366, "height": 768}, locale="ja-JP", base_url=live_server.url
    )
    second = context.new_page()
    second.set_default_timeout(15_000)
    sign_in_with_totp(second, approver)
    second.goto(f"/admin/pages/{section.pk}/")
    second.locator("tr", has_text="転入・転出").locator("input[type=checkbox]").check(force=True)
    second.locator("[data-bulk-action-footer]").get_by_role("link", name=re.compile("公開")).first.click()
    second.wait_for_url("**/bulk/**")
    second.get_by_label("下の階層のページも含める").check()
    second.get_by_role("button", name="はい、公開します").click()
    second.wait_for_url(f"**/admin/pages/{section.pk}/")
    assert all(p.live for p in AnswerPage.objects.all())

    # Residents now walk it; the tester's old draft taps no longer show drafts to others.
    resident = emu.create_user("大船渡 三郎")["user_id"]
    deliver(emu.follow(resident))
    deliver(emu.postback(resident, f"chatbot={top}"))
    answer = emu.received(resident)[-1]["message"]
    assert [i["action"]["label"] for i in answer["quickReply"]["items"]] == ["転入届"]

    # A later edit of 転入届 (published by the 承認者) is rolled back with the revision history.
    page_model = AnswerPage.objects.get(pk=moving_in)
    edited = page_model.get_latest_revision_as_object()
    edited.body = [{"type": "text", "value": "（誤り）転入届は30日以内です。"}]
    edited.save_revision(user=approver, log_action=True).publish(user=approver)
    deliver(emu.perform(resident, answer["quickReply"]["items"][0]["action"]))
    assert emu.received(resident)[-1]["message"]["text"] == "（誤り）転入届は30日以内です。"

    page.goto(f"/admin/pages/{moving_in}/history/")
    page.locator("tr", has_text="下書きを保存しました").last.locator(
        "[data-w-dropdown-target='toggle']"
    ).click()
    page.get_by_role("link", name="このバージョンを確認").click()
    page.wait_for_url(f"**/admin/pages/{moving_in}/revisions/**")
    expect(page.locator("#body-0-value")).to_have_value(
        "転入届は、引っ越してから14日以内に市民課へ出してください。"
    )
    page.get_by_role("button", name="現在の下書きを置き換える").click()
    page.wait_for_url(f"**/admin/pages/{moving_in}/edit/")
    open_action_menu(page)
    page.get_by_role("button", name=re.compile("に提出する$")).click()
    expect(page.locator(".messages")).to_contain_text("転入届")

    # The 承認者 approves the restored revision; residents get the right answer again.
    second.goto(f"/admin/pages/{moving_in}/edit/")
    open_action_menu(second)
    second.get_by_role("button", name="承認と公開", exact=True).click()
    expect(second.locator(".messages")).to_contain_text("転入届")
    context.close()
    deliver(emu.perform(resident, answer["quickReply"]["items"][0]["action"]))
    restored = emu.received(resident)[-1]["message"]["text"]
    assert restored == "転入届は、引っ越してから14日以内に市民課へ出してください。"
    assert page.csp_violations == []
