"""Accessibility (WCAG 2.1 A/AA, checked by axe-core in Chromium) of the login page and the manual."""

from __future__ import annotations

from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe

from kairan.staff.roles import VIEWER
from tests.conftest import STAFF_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]}


def assert_accessible(page: Any) -> None:
    """Run axe on the loaded page; fail with each violation's id, targets and help."""
    page.wait_for_load_state("networkidle")
    results = Axe().run(page, options=AXE_OPTIONS)
    violations = results.response["violations"]
    report = "\n".join(
        f"- {v['id']} ({v['impact']}): {v['help']} {v['helpUrl']}\n"
        + "\n".join(f"    {', '.join(map(str, node['target']))}: {node['html'][:200]}" for node in v["nodes"])
        for v in violations
    )
    assert violations == [], f"{page.url} has accessibility violations:\n{report}"


def sign_in(page: Any, username: str) -> None:
    page.goto("/admin/login/")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(STAFF_PASSWORD)
    page.locator("form.login-form button[type=submit]").click()
    page.wait_for_url("**/admin/")


def test_login_page_is_accessible(page: Any) -> None:
    page.goto("/admin/login/")
    assert page.locator(".kairan-auth-help a").get_attribute("href") == "/manual/login/"
    assert_accessible(page)
    assert page.csp_violations == []


def test_public_login_help_is_accessible(page: Any) -> None:
    page.goto("/admin/login/")
    page.locator(".kairan-auth-help a").click()
    page.wait_for_url("**/manual/login/")
    assert page.locator("h1").inner_text() == "ログインと二要素認証"
    assert_accessible(page)
    assert page.csp_violations == []


def test_manual_in_the_admin_is_accessible(page: Any, make_staff: Any) -> None:
    make_staff("etsuran", VIEWER)
    sign_in(page, "etsuran")

    page.goto("/admin/manual/login/")
    assert page.locator("h1.kairan-manual__title").inner_text() == "ログインと二要素認証"
    # The admin's sidebar (rendered by its JavaScript) has the マニュアル menu item.
    page.locator("#wagtail-sidebar a[href='/admin/manual/']").wait_for()
    assert_accessible(page)

    page.get_by_role("link", name="マニュアルの目次へ戻る").click()
    page.wait_for_url("**/admin/manual/")
    assert_accessible(page)

    page.get_by_label("マニュアルを検索").fill("ハッシュ")
    page.get_by_role("button", name="検索", exact=True).click()
    page.wait_for_url("**/admin/manual/search/?q=*")
    assert page.locator(".kairan-manual-result mark").first.inner_text() == "ハッシュ"
    assert_accessible(page)

    page.locator(".kairan-manual-result__section a").first.click()
    page.wait_for_url("**/admin/manual/oplog/#*")
    assert page.csp_violations == []
