"""The acceptance scenario of 配信, in a real browser: a 担当者 registers a tester, composes a text
and card delivery to 「盛町に住むか盛町で働く、60歳以上で、クマ出没情報を希望する人」 with the segment
builder, schedules it an hour ahead, sends a test (only the tester receives it, in the LINE
emulator) and asks for approval; a 承認者 sees it on the dashboard, checks the preview and approves
it; once the time has come (the test moves Kairan's clock) exactly the two matching residents
receive it, once; the 配信履歴 shows the counts and exports them as CSV.

The live server runs no Django-Q cluster: the test does the cluster's work (``send_everything``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from deliveries.models import Delivery, DeliveryRun, DeliverySettings
from emulator.client import EmulatorControl
from kairan.staff.roles import APPROVER, EDITOR
from residents.consent import resident_number
from tests.conftest import sign_in_with_totp
from tests.deliveries.test_sending import clock, send_everything, town  # noqa: F401 - fixtures

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

STREAM = "#messages-root"
TITLE = "クマ出没のお知らせ（盛町）"
TEXT = "盛町でクマが目撃されました。外出の際は注意してください。"
CARD_TITLE = "クマに出会ったら"
CARD_BODY = "走らずに、ゆっくり離れてください。"
CITY_URL = "https://www.city.ofunato.iwate.jp/"
State = DeliveryRun.State


def staff_with_app(make_staff: Callable[..., Any], username: str, role: str) -> Any:
    user = make_staff(username, role)
    TOTPDevice.objects.create(user=user, name="認証アプリ", confirmed=True)
    return user


def add_block(page: Any, label: str) -> str:
    """Append a block to the delivery's messages; returns the prefix of its inputs."""
    index = page.locator(f"{STREAM} input[name$='-type'][name^='messages-']:not([name*='-value-'])").count()
    page.locator(f"{STREAM} .c-sf-add-button:not([data-streamfield-list-add])").last.click()
    page.get_by_role("option", name=label, exact=True).click()
    expect(page.locator(f"input[name='messages-{index}-type']")).to_be_attached()
    return f"messages-{index}"


def build_bear_alert(page: Any) -> None:
    """盛町 (home or work) and aged 60 or over and wants クマ出没情報, with the builder's controls."""
    builder = page.locator("[data-segment-builder]")
    root = builder.get_by_role("group", name="条件", exact=True)
    root.get_by_role("radio", name="すべての条件を満たす（かつ）").first.check()
    root.get_by_role("button", name="グループを追加").last.click()
    inner = root.get_by_role("group", name="グループ（2段目）")
    expect(inner.get_by_role("radio", name="どれかの条件を満たす（または）")).to_be_checked()
    inner.get_by_role("combobox", name="項目").select_option(label="お住まいの地区")
    inner.get_by_role("checkbox", name="盛町").check()
    inner.get_by_role("button", name="条件を追加").click()
    inner.get_by_role("combobox", name="項目").last.select_option(label="勤務先・通学先の地区")
    inner.get_by_role("checkbox", name="盛町").last.check()

    root.get_by_role("button", name="条件を追加").last.click()
    root.get_by_role("combobox", name="項目").last.select_option(label="生まれ年")
    root.get_by_role("spinbutton", name="歳以上").fill("60")

    root.get_by_role("button", name="条件を追加").last.click()
    root.get_by_role("combobox", name="項目").last.select_option(label="受け取りたい情報")
    root.get_by_role("combobox", name="一致のしかた").last.select_option(label="次のどれか")
    root.get_by_role("checkbox", name="クマ出没情報").check()
    expect(builder.get_by_text("該当する友だち: 2 人")).to_be_visible()


def open_action_menu(page: Any) -> None:
    page.locator("footer [data-w-dropdown-target='toggle']").last.click()


def test_a_segmented_delivery_from_composition_to_the_history_csv(
    page: Any,
    browser: Any,
    live_server: Any,
    make_staff: Callable[..., Any],
    town: dict[str, str],  # noqa: F811 - the imported fixture
    emu: EmulatorControl,
    clock: Callable[[timedelta], None],  # noqa: F811 - the imported fixture
    settings: Any,
) -> None:
    settings.WAGTAIL_AUTOSAVE_INTERVAL = 0  # no autosave racing the buttons
    rules = DeliverySettings.load()
    rules.approval_threshold = 1  # this delivery reaches two friends: it needs a second person
    rules.save()
    author = staff_with_app(make_staff, "tanto", EDITOR)
    approver = staff_with_app(make_staff, "shonin", APPROVER)

    # The 担当者 makes the friend "young" (who is not in the segment) a tester.
    sign_in_with_totp(page, author)
    page.goto("/admin/deliveries/testers/")
    page.get_by_label("お問い合わせ番号").fill(resident_number(town["young"]))
    page.get_by_label("名前（職員向け）").fill("防災課 大船渡")
    page.get_by_role("button", name="追加する").click()
    expect(page.locator("#testers")).to_contain_text("防災課 大船渡")

    # … composes the delivery: a text and a card, the segment, a time an hour ahead.
    page.goto("/admin/snippets/deliveries/delivery/add/")
    page.get_by_label("管理用タイトル").fill(TITLE)
    text = add_block(page, "テキスト")
    page.locator(f"#{text}-value").fill(TEXT)
    card = add_block(page, "カード")
    page.locator(f"#{card}-value-title").fill(CARD_TITLE)
    page.locator(f"#{card}-value-body").fill(CARD_BODY)
    page.locator(f"{STREAM} [data-contentpath='buttons'] [data-streamfield-list-add]").last.click()
    page.locator(f"#{card}-value-buttons-0-value-label").fill("詳しく")
    page.locator(f"#{card}-value-buttons-0-value-url").fill(CITY_URL)
    page.get_by_role("radio", name="この配信だけの条件を指定する").check()
    build_bear_alert(page)
    page.get_by_role("radio", name="日時を指定して送る（予約）").check()
    send_at = timezone.localtime(timezone.now() + timedelta(hours=1))
    send_at_input = page.locator("#id_send_at")
    send_at_input.fill(f"{send_at:%Y-%m-%d %H:%M}")  # the format of Wagtail's date-time widget
    page.locator("#delivery-summary").click()  # (closes the calendar, which covers the footer)
    expect(page.locator(".xdsoft_datetimepicker:visible")).to_have_count(0)
    expect(send_at_input).to_have_value(f"{send_at:%Y-%m-%d %H:%M}")
    page.get_by_role("button", name="下書きを保存").click()
    page.wait_for_url("**/deliveries/delivery/edit/*/")
    expect(page.locator("#summary-count")).to_have_text("2 人")
    expect(page.locator("#summary-approval")).to_contain_text("必要です")
    expect(page.locator("#summary-schedule")).to_contain_text(f"{send_at:%H:%M}")
    delivery = Delivery.objects.get()
    draft = delivery.get_latest_revision_as_object()
    assert [block.block_type for block in draft.messages] == ["text", "card"]
    edit_url = page.url

    # … sends a test: only the tester receives it.
    page.get_by_role("button", name="テスターに送る").click()
    page.wait_for_url("**/admin/deliveries/history/*/")
    expect(page.locator(".messages")).to_contain_text("テスター 1 人にテスト配信しました")
    test_run = send_everything(DeliveryRun.objects.get(kind=DeliveryRun.Kind.TEST))
    assert emu.deliveries()["perUser"] == {town["young"]: 2}
    text_message, card_message = (m["message"] for m in emu.received(town["young"]))
    assert text_message == {"type": "text", "text": TEXT}
    assert card_message["type"] == "flex" and CARD_TITLE in str(card_message["contents"])
    page.reload()
    expect(page.locator("#run-state")).to_have_text("配信完了")
    expect(page.locator("#test-recipients")).to_contain_text("防災課 大船渡")
    assert test_run.sent_count == 1

    # … and asks for approval.
    page.goto(edit_url)
    open_action_menu(page)
    expect(page.get_by_role("button", name="配信を確定（公開）")).to_be_visible()
    page.get_by_role("button", name="承認を依頼").click()
    expect(page.locator(".messages")).to_contain_text(f"配信「{TITLE}」を承認のために提出しました")
    delivery.refresh_from_db()
    assert delivery.workflow_in_progress and not delivery.live

    # The 承認者, in a browser of their own, finds it on the dashboard, checks it and approves it.
    context = browser.new_context(
        viewport={"width": 1366, "height": 768},
        locale="ja-JP",
        accept_downloads=True,
        base_url=live_server.url,
    )
    second = context.new_page()
    second.set_default_timeout(15_000)
    sign_in_with_totp(second, approver)
    second.get_by_role("link", name="承認待ちの配信が 1 件あります。").click()
    listed = second.locator("tbody tr", has_text=TITLE)
    expect(listed).to_contain_text("承認待ち")
    listed.get_by_role("link", name=TITLE).first.click()
    second.wait_for_url(f"**{edit_url.split(live_server.url)[1]}")
    expect(second.locator("#summary-count")).to_have_text("2 人")
    second.locator("[data-side-panel-toggle='preview']").click()
    preview = second.frame_locator("#w-preview-iframe")
    expect(preview.get_by_text(TEXT)).to_be_visible()
    expect(preview.get_by_text(CARD_TITLE)).to_be_visible()
    open_action_menu(second)
    second.get_by_role("button", name="承認と公開", exact=True).click()
    expect(second.locator(".messages")).to_contain_text(f"配信「{TITLE}」を更新しました")
    expect(second.locator("tbody tr", has_text=TITLE)).to_contain_text("予約済み")  # the listing
    run = DeliveryRun.objects.exclude(kind=DeliveryRun.Kind.TEST).get()
    assert (run.state, run.approver, run.author) == (State.SCHEDULED, "shonin", "tanto")
    assert run.scheduled_for > timezone.now()
    context.close()

    # The time comes: exactly the two matching residents receive it, once (text and card: 2 each).
    clock(timedelta(hours=1, seconds=5))
    run = send_everything(run)
    per_user = emu.deliveries()["perUser"]
    assert {user: per_user.get(user, 0) for user in town.values()} == {
        town["home"]: 2,
        town["work"]: 2,
        town["young"]: 2,  # the test
        town["nobear"]: 0,
        town["elsewhere"]: 0,
        town["blocked"]: 0,
    }
    assert (run.state, run.target_count, run.sent_count, run.failed_count) == (State.DONE, 2, 2, 0)

    # The history: the row, the run's page and the CSV.
    page.goto("/admin/deliveries/history/")
    results = page.locator("table.listing:not([id^='totals'])")
    row = results.locator("tbody tr", has_text=TITLE, has_not_text="テスト")
    expect(row).to_contain_text("配信完了")
    headers = [h.strip() for h in results.locator("thead th").all_inner_texts()]
    cells = dict(zip(headers, (t.strip() for t in row.locator("td").all_inner_texts()), strict=True))
    assert (cells["種類"], cells["状態"], cells["対象"], cells["送信"], cells["失敗"]) == (
        "予約",
        "配信完了",
        "2",
        "2",
        "0",
    )
    row.get_by_role("link", name=TITLE).click()
    expect(page.locator("#run-state")).to_have_text("配信完了")
    expect(page.locator("#run-approver")).to_have_text("shonin")
    expect(page.locator("#run-sent")).to_have_text("2 人")
    page.go_back()
    with page.expect_download() as download_info:
        page.get_by_role("link", name="CSV（UTF-8）").click()
    data = Path(download_info.value.path()).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    sent = [r for r in rows if r["種類"] == "予約"]
    assert len(sent) == 1, rows
    assert (sent[0]["管理用タイトル"], sent[0]["状態"], sent[0]["対象人数"], sent[0]["送信数"]) == (
        TITLE,
        "配信完了",
        "2",
        "2",
    )
    assert (sent[0]["失敗数"], sent[0]["承認者"], sent[0]["作成者"]) == ("0", "shonin", "tanto")
    assert page.csp_violations == []
