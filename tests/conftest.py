"""Shared fixtures: staff users, TOTP codes and a Playwright browser on Debian's Chromium."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import pytest

# Playwright's sync API runs an event loop in this thread; the ORM calls made by
# tests around it are still plain synchronous calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("KAIRAN_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
STAFF_PASSWORD = "Kairan-test-2026"


@pytest.fixture(autouse=True)
def _fresh_chatbot_content() -> None:
    """Each test starts without the chatbot content an earlier test's process held (its database
    and cache were rolled back under it)."""
    from chatbot import content

    content.forget()


@pytest.fixture(scope="session")
def _playwright() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(_playwright: Any) -> Iterator[Any]:
    from playwright.sync_api import expect

    # Assertions wait as long as actions do (15 s): on a busy 2-core CI machine a Wagtail publish
    # or a first page render can take longer than Playwright's 5 s default.
    expect.set_options(timeout=15_000)
    browser = _playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    yield browser
    browser.close()


@pytest.fixture
def page(browser: Any, live_server: Any, django_db_serialized_rollback: None) -> Iterator[Any]:
    """A fresh browser tab at 1366x768 (the city's PCs) in Japanese, with downloads allowed.

    The live server needs a transactional database; serialized rollback brings
    back what migrations created (roles, the Wagtail tree) after earlier
    transactional tests flushed it. At the end the tab leaves the site and waits a moment, so
    that no request of the page (Wagtail's editor pings, a LIFF page's polling) reaches the live
    server between the database flush and the next test's restore (it would write there, e.g.
    to the operation log, whose chain would then be out of step).
    """
    context = browser.new_context(
        viewport={"width": 1366, "height": 768},
        locale="ja-JP",
        accept_downloads=True,
        base_url=live_server.url,
    )
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    tab.csp_violations = []
    tab.on(
        "console",
        lambda msg: (
            tab.csp_violations.append(f"{tab.url}: {msg.text}")
            if "Content Security Policy" in msg.text
            else None
        ),
    )
    yield tab
    if not tab.is_closed():
        tab.goto("about:blank")
        tab.wait_for_timeout(300)
    context.close()


@pytest.fixture
def make_staff(db: None) -> Callable[..., Any]:
    """Create a staff user in the named groups (roles and departments)."""
    from django.contrib.auth.models import Group, User

    def _make(username: str, *groups: str, superuser: bool = False, password: str = STAFF_PASSWORD) -> User:
        user = User.objects.create_user(
            username=username, password=password, email=f"{username}@example.jp", last_name=username
        )
        user.is_superuser = superuser
        user.save()
        for name in groups:
            user.groups.add(Group.objects.get(name=name))
        return user

    return _make


def totp_code(user: Any) -> str:
    """The current TOTP code of the user's confirmed device (as an authenticator app shows it)."""
    from django_otp.oath import TOTP
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.get(user=user, confirmed=True)
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"


def sign_in_with_totp(page: Any, user: Any) -> None:
    """Sign a member of staff in through the login form and the two-factor step (their TOTP device)."""
    page.goto("/admin/login/")
    page.get_by_label("ユーザー名").fill(user.username)
    page.get_by_label("パスワード").fill(STAFF_PASSWORD)
    page.locator("form.login-form button[type=submit]").click()
    page.wait_for_url("**/admin/mfa/verify/**")
    page.get_by_label("認証コード（6桁）").fill(totp_code(user))
    page.get_by_role("button", name="確認する").click()
    page.wait_for_url("**/admin/")


def sign_in_as_system_admin(page: Any, make_staff: Callable[..., Any], username: str = "kanri") -> Any:
    """A システム管理者 with an authenticator app, signed in in ``page``; returns the user."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from kairan.staff.roles import ADMIN

    admin = make_staff(username, ADMIN, superuser=True)
    TOTPDevice.objects.create(user=admin, name="認証アプリ", confirmed=True)
    sign_in_with_totp(page, admin)
    return admin


@pytest.fixture(scope="session")
def _playwright_before_database(request: pytest.FixtureRequest) -> None:
    """Start Playwright before the test database is created, when browser tests will run.

    Playwright's sync API runs an event loop in the main thread, which gives
    the ORM a new connection object; creating the database after it keeps the
    serialized contents (used by serialized rollback) on the connection tests use.
    """
    if any(item.get_closest_marker("browser") for item in request.session.items):
        request.getfixturevalue("_playwright")


@pytest.fixture(scope="session")
def django_db_setup(_playwright_before_database: None, django_db_setup: None) -> None:
    """pytest-django's database set-up, after Playwright when browser tests run."""


def run_async(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """``asyncio.run`` in a thread of its own: the main thread may hold Playwright's event loop."""
    result: list[Any] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(coroutine))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return result[0]


# --- the LINE emulator: one per test session, reset before each test that uses it ---------------------


@pytest.fixture(scope="session")
def line_emulator() -> Iterator[Any]:
    from emulator.server import start_in_thread

    running = start_in_thread()
    yield running
    running.stop()


@pytest.fixture
def emu(line_emulator: Any) -> Iterator[Any]:
    from emulator.client import EmulatorControl

    control = EmulatorControl(line_emulator.url)
    control.reset()
    yield control
    control.close()
