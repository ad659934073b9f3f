"""In a real browser: a resident adds the account as a friend in the phone simulator, and a
システム管理者 (signed in with TOTP) sees the new friend in the admin's 友だち list within seconds.

The webhook goes from the emulator to Django's live server; the receiver enqueues a Django-Q
task; a stand-in for the cluster (a thread in this process that takes tasks off Django-Q's ORM
queue and runs them, as a cluster worker does) processes the event and fetches the profile from
the emulator. A real ``qcluster`` process cannot see the test database of a pytest run on
PostgreSQL, and the thread keeps the test fast and deterministic while still exercising the
receiver's enqueue path.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connections
from django.utils.module_loading import import_string
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_q.brokers import get_broker
from django_q.models import OrmQ
from django_q.signing import SignedPackage
from playwright.sync_api import expect

from emulator.client import EmulatorControl
from emulator.server import RunningEmulator
from kairan.staff.roles import ADMIN
from line_channel import tasks
from line_channel.models import Follower, WebhookEvent
from tests.conftest import sign_in_with_totp

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


@pytest.fixture
def queue_worker() -> Iterator[list[str]]:
    """Run tasks queued on Django-Q's ORM broker in a thread, as a cluster would; yield their names."""
    cache.clear()  # no slot marked as enqueued by earlier tests
    tasks._last_slot = -1
    stop = threading.Event()
    ran: list[str] = []
    errors: list[BaseException] = []

    def work() -> None:
        broker = get_broker()
        try:
            while not stop.is_set():
                for task_id, package in broker.dequeue() or []:
                    task = SignedPackage.loads(package)
                    import_string(task["func"])(*task["args"], **task["kwargs"])
                    broker.acknowledge(task_id)
                    ran.append(task["func"])
        except BaseException as exc:  # noqa: BLE001 - reported after the test
            errors.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=work, name="django-q-stand-in", daemon=True)
    thread.start()
    yield ran
    stop.set()
    thread.join(timeout=120)  # (a task it is running ends first: none may run into the next test)
    assert not thread.is_alive() and errors == []


def test_a_new_friend_in_the_simulator_appears_in_the_admin_list(
    page: Any,
    browser: Any,
    make_staff: Any,
    line_emulator: RunningEmulator,
    emu: EmulatorControl,
    line_channel: Any,
    webhook_to: Any,
    live_server: Any,
    queue_worker: list[str],
) -> None:
    admin = make_staff("kanri", ADMIN, superuser=True)
    TOTPDevice.objects.create(user=admin, name="認証アプリ", confirmed=True)
    webhook_to(live_server.url)
    sign_in_with_totp(page, admin)
    page.get_by_role("link", name="友だち", exact=True).click()
    page.wait_for_url("**/admin/line/followers/")
    expect(page.get_by_role("heading", name="友だち一覧", level=1)).to_be_visible()
    expect(page.locator("[data-kairan-count=friends]")).to_have_text("0人")

    # A resident, in the phone simulator, adds the account as a friend.
    phone_context = browser.new_context(
        viewport={"width": 1366, "height": 768}, locale="ja-JP", base_url=line_emulator.url
    )
    try:
        phone = phone_context.new_page()
        phone.set_default_timeout(15_000)
        phone.goto("/")
        phone.get_by_label("新しい住民の表示名").fill("大船渡 次郎")
        phone.get_by_role("button", name="住民を作成").click()
        expect(phone.locator("#sim-message")).to_have_text("住民「大船渡 次郎」を作成しました。")
        phone.get_by_role("button", name="友だち追加").click()
        expect(phone.locator("#friend-state")).to_have_text("友だちです")
        followed = time.monotonic()
    finally:
        phone_context.close()

    # The member of staff reloads the list until the friend is there: within a few seconds.
    row = page.locator("table.listing:not([data-kairan-series]) tbody tr", has_text="大船渡 次郎")
    while row.count() == 0 and time.monotonic() - followed < 10:
        page.wait_for_timeout(500)
        page.reload()
    expect(row).to_be_visible()
    waited = time.monotonic() - followed
    assert waited < 10, f"the new friend took {waited:.1f} s to appear"
    expect(row).to_contain_text("友だち")
    expect(row).to_contain_text("日本語")
    expect(page.locator("[data-kairan-count=friends]")).to_have_text("1人")
    expect(page.locator("[data-kairan-count=today]")).to_contain_text("+1人")
    expect(page.locator("svg[data-kairan-chart]")).to_be_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "followers.png"), full_page=True)

    follower = Follower.objects.get()
    assert follower.display_name == "大船渡 次郎" and follower.status == Follower.Status.FOLLOWING
    assert WebhookEvent.objects.get().state == WebhookEvent.State.DONE
    assert tasks.TASK in queue_worker and OrmQ.objects.count() == 0
    assert page.csp_violations == []
