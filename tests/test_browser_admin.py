"""The acceptance path in a real browser: TOTP login, a new staff member in a department,
the write in the operation log, and its CSV export (UTF-8 with BOM, formula neutralised)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect
from wagtail.models import Page

from home.models import StandardPage
from kairan.staff.permissions import create_department
from kairan.staff.roles import ADMIN, EDITOR
from tests.conftest import STAFF_PASSWORD, sign_in_as_system_admin, totp_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

FORMULA_USERNAME = '=HYPERLINK("http://evil.example/","x")'


def sign_in(page: Any, username: str, password: str = STAFF_PASSWORD) -> None:
    page.goto("/admin/login/")
    page.get_by_label("ユーザー名").fill(username)
    page.get_by_label("パスワード").fill(password)
    page.locator("form.login-form button[type=submit]").click()


def test_admin_creates_staff_and_finds_it_in_the_operation_log(page: Any, make_staff: Any) -> None:
    admin = make_staff("kanri", ADMIN, superuser=True)
    TOTPDevice.objects.create(user=admin, name="認証アプリ", confirmed=True)
    home = Page.objects.get(depth=2)
    section = home.add_child(instance=StandardPage(title="防災・安全", slug="bousai"))
    create_department(name="防災課", section=section)

    # Someone tries a spreadsheet formula as a user name: it is logged, and must stay inert in exports.
    sign_in(page, FORMULA_USERNAME, "wrong-password-1")
    expect(page.locator(".messages .error").first).to_be_visible()

    sign_in(page, "kanri")
    page.wait_for_url("**/admin/mfa/verify/**")
    page.get_by_label("認証コード（6桁）").fill(totp_code(admin))
    page.get_by_role("button", name="確認する").click()
    page.wait_for_url("**/admin/")
    expect(page.locator(".kairan-footer")).to_contain_text("バージョン")

    # Create a staff member as 担当者 in 防災課 through Wagtail's own user screens.
    page.goto("/admin/users/new/")
    page.get_by_label("ユーザー名").fill("sato")
    page.get_by_label("Eメール").fill("sato@city.example.jp")
    page.get_by_label("姓").fill("佐藤")
    page.locator("#id_first_name").fill("花子")
    page.locator("#id_password1").fill("Sanriku-umi-2026")
    page.locator("#id_password2").fill("Sanriku-umi-2026")
    page.get_by_role("tab", name="役割").first.click()
    page.get_by_label(EDITOR, exact=True).check()
    page.get_by_label("防災課", exact=True).check()
    page.locator("form button[type=submit]").filter(has_text="作成").first.click()
    page.wait_for_url("**/admin/users/")
    sato = User.objects.get(username="sato")
    assert set(sato.groups.values_list("name", flat=True)) == {EDITOR, "防災課"}

    # The write is in the operation log, with who did it.
    page.goto("/admin/reports/operation-log/")
    table = page.locator("table.listing")
    row = table.locator("tr", has_text="sato").first
    expect(row).to_be_visible()
    expect(row).to_contain_text("kanri")

    # Export CSV (UTF-8 with BOM) with a plain download.
    with page.expect_download() as download_info:
        page.get_by_role("link", name="CSV（UTF-8）").click()
    data = Path(download_info.value.path()).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    cells = [cell for row in rows for cell in row]
    assert any("sato" in cell for cell in cells)
    formula_cells = [cell for cell in cells if "HYPERLINK" in cell]
    assert formula_cells, "the failed login with a formula user name is exported"
    assert all(not cell.startswith("=") for cell in formula_cells)
    assert any(cell.startswith("'=HYPERLINK") for cell in formula_cells)
    assert page.csp_violations == []


def test_report_date_filter_uses_wagtails_date_picker_under_our_csp(page: Any, make_staff: Any) -> None:
    """Wagtail's date widgets normally start from inline scripts, which our CSP blocks;
    kairan/admin-init.js starts them instead."""
    sign_in_as_system_admin(page, make_staff)

    page.goto("/admin/reports/operation-log/")
    page.locator(".w-slim-header-action-button[data-w-dropdown-target=toggle]").first.click()
    page.get_by_role("button", name="期間（開始日・終了日）").click()
    page.locator("#id_period_0").click()
    expect(page.locator(".xdsoft_datetimepicker:visible").first).to_be_visible()
    assert page.csp_violations == []
