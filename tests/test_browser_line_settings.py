"""LINE連携設定 in a real browser against the LINE emulator: a システム管理者 finds the screen in the
menu, saves the channel (secrets never shown back), runs the connection test (a wrong token shows
LINE's 401, the right one the account), registers the webhook URL and finds both in the operation log."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from emulator.client import EmulatorControl
from emulator.errors import UNAUTHORIZED
from emulator.server import RunningEmulator
from line_channel.models import LineChannelSettings
from tests.conftest import sign_in_as_system_admin
from tests.test_browser_a11y import assert_accessible

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def save(page: Any) -> None:
    page.locator("form button[type=submit]").filter(has_text="保存").first.click()


def test_admin_configures_line_tests_the_connection_and_registers_the_webhook(
    page: Any,
    make_staff: Any,
    live_server: Any,
    line_emulator: RunningEmulator,
    emu: EmulatorControl,
    settings: Any,
) -> None:
    settings.KAIRAN_LINE_API_BASE = line_emulator.config.api_base
    settings.KAIRAN_LINE_DATA_BASE = line_emulator.config.data_base
    settings.WAGTAILADMIN_BASE_URL = live_server.url
    spec = line_emulator.config.channels[0]
    sign_in_as_system_admin(page, make_staff)

    # Found in the menu: 設定 → LINE連携設定.
    page.get_by_role("button", name="設定").click()
    page.get_by_role("link", name="LINE連携設定").click()
    page.wait_for_url("**/admin/settings/line_channel/linechannelsettings/**")
    expect(page.locator("[data-kairan-line-status]")).to_contain_text("まだ接続テストをしていません")
    expect(page.locator("[data-kairan-line-webhook-url]")).to_have_text(live_server.url + "/line/webhook/")

    # First with a token pasted wrongly.
    page.get_by_label("チャネルID", exact=True).fill(spec.channel_id)
    page.get_by_label("チャネルシークレット").fill(spec.channel_secret)
    page.get_by_label("チャネルアクセストークン（長期）").fill("pasted-the-wrong-token")
    page.get_by_label("LINEログインのチャネルID").fill(spec.login_channel_id)
    save(page)
    expect(page.locator(".messages .success")).to_contain_text("LINE連携設定")
    secret_box = page.get_by_label("チャネルシークレット")
    expect(secret_box).to_have_value("")
    expect(secret_box).to_have_attribute("placeholder", "設定済み（変更するときだけ入力）")
    assert spec.channel_secret not in page.content()

    page.get_by_role("button", name="接続テスト").click()
    error = page.locator(".messages .error")
    expect(error).to_contain_text("チャネルアクセストークンが正しくありません")
    expect(error).to_contain_text("401")
    expect(error).to_contain_text(UNAUTHORIZED)

    # The right token; the secret, left empty, is kept.
    page.get_by_label("チャネルアクセストークン（長期）").fill(spec.access_token)
    save(page)
    expect(page.locator(".messages .success")).to_be_visible()
    stored = LineChannelSettings.load()
    assert (stored.channel_secret, stored.access_token) == (spec.channel_secret, spec.access_token)
    page.get_by_role("button", name="接続テスト").click()
    expect(page.locator(".messages .success")).to_contain_text("LINE に接続できました")
    expect(page.locator("[data-kairan-line-display-name]")).to_have_text(spec.display_name)
    expect(page.locator("[data-kairan-line-basic-id]")).to_have_text(spec.basic_id)
    assert_accessible(page)  # WCAG 2.1 AA, with the messages shown
    expect(page.locator(".messages .warning")).to_contain_text("Webhook URL")  # none registered yet

    # Typing without saving and pressing a button: nothing is tested with half-entered values.
    page.get_by_label("チャネルアクセストークン（長期）").fill("typed-but-not-saved")
    page.get_by_role("button", name="Webhook URL を設定してテスト").click()
    expect(page.locator(".messages .warning")).to_contain_text("まだ保存されていません")
    assert emu.channel()["webhookUrl"] == ""

    page.get_by_role("button", name="Webhook URL を設定してテスト").click()
    success = page.locator(".messages .success")
    expect(success).to_contain_text("Webhook URL を " + live_server.url + "/line/webhook/ に設定しました")
    expect(success).to_contain_text("statusCode=200")
    assert emu.channel()["webhookUrl"] == live_server.url + "/line/webhook/"

    # Both actions are in the operation log, in Japanese.
    page.goto("/admin/reports/operation-log/")
    table = page.locator("table.listing")
    expect(table.locator("tr", has_text="LINE 接続テスト").first).to_contain_text("kanri")
    expect(table.locator("tr", has_text="LINE Webhook URL の設定とテスト").first).to_be_visible()
    assert page.csp_violations == []
