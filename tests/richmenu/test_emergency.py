"""災害モード against the emulator: every friend sees the emergency menu, including those with a
per-user link from a tab switch, and the revert gives each friend back exactly what they saw."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from wagtail.models import Page

from richmenus import emergency
from richmenus.models import EmergencySwitch, MenuSet, PublishedMenu
from tests.richmenu.test_menu_sets import area, clean, publish_revision, tab, two_tabs

pytestmark = pytest.mark.django_db


@pytest.fixture
def home_page() -> Page:
    return Page.objects.get(depth=2)


def emergency_set() -> MenuSet:
    labels = ["避難所", "防災情報", "安否確認", "気象・河川", "市からのお知らせ", "電話"]
    areas = [area(label) for label in labels]
    areas[5] = area("電話", "tel", tel="0192-27-3111")
    menu_set = MenuSet(
        name="災害時メニュー", purpose="emergency", theme="emergency", tabs=clean(tab("災害", "2x3", areas))
    )
    menu_set.live = False
    menu_set.save()
    return menu_set


def sees(emu: Any, user: str) -> tuple[str | None, str | None]:
    shown = emu.user_rich_menu(user)
    return shown["source"], (shown["richMenu"] or {}).get("richMenuId")


@pytest.fixture
def town(home_page: Page, line_channel: Any, emu: Any) -> dict[str, Any]:
    """A published 2-tab default set; three friends: on the default, switched to tab 2, switched
    to tab 2 and back to tab 1 (so linked per user to tab 1); a published emergency set."""
    normal = two_tabs(home_page)
    normal.is_default = True
    normal.live = False
    normal.save()
    with mock.patch("richmenus.signals.async_task"):
        publish_revision(normal)
        special = emergency_set()
        publish_revision(special)
    users = {}
    for name in ("default", "tab2", "tab1"):
        users[name] = emu.create_user(name)["user_id"]
        emu.follow(users[name])
    emu.tap(users["tab2"], area=1)
    emu.tap(users["tab1"], area=1)
    emu.tap(users["tab1"], area=0)
    live = {row.tab: row.rich_menu_id for row in PublishedMenu.objects.filter(menu_set=normal, state="live")}
    before = {name: sees(emu, user) for name, user in users.items()}
    assert before == {"default": ("default", live[1]), "tab2": ("user", live[2]), "tab1": ("user", live[1])}
    return {"normal": normal, "emergency": special, "users": users, "before": before}


def test_every_friend_sees_the_emergency_menu_and_gets_their_own_back(
    town: dict[str, Any], emu: Any, make_staff: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from deliveries.fanout import due_run_ids
    from deliveries.models import DeliveryRun

    due = timezone.now() - timedelta(minutes=1)
    runs = {
        category: DeliveryRun.objects.create(
            kind="at", scheduled_for=due, title=category, category=category
        ).pk
        for category in ("disaster", "childcare")
    }
    from kairan.oplog.models import OperationLogEntry

    staff = make_staff("bousai")
    with (
        mock.patch("richmenus.emergency.async_task") as queued,
        django_capture_on_commit_callbacks(execute=True),
    ):
        switch = emergency.switch_on(
            menu_set=town["emergency"], user=staff, alert="【大船渡市】避難指示を発令しました。"
        )
    queued.assert_called_once_with("richmenus.tasks.apply_emergency", switch.pk, group="richmenus")
    assert emergency.apply(switch.pk).startswith("友だち全員")
    switch.refresh_from_db()
    assert switch.state == "on" and len(switch.copies) == 2
    copies = {c["to"] for c in switch.copies}
    during = {name: sees(emu, user) for name, user in town["users"].items()}
    assert all(menu in copies for _source, menu in during.values()), during
    assert during["default"][0] == "default" and during["tab2"][0] == "user"
    assert emu.rich_menus()["defaultRichMenuId"] in copies
    seen = emu.rich_menu_audience()
    assert set(seen["menus"]) <= copies and seen["none"] == 0 and sum(seen["menus"].values()) == 3
    # The alert goes to every friend; only 防災 deliveries leave while the mode is on.
    from line_channel.models import OutboxItem

    assert OutboxItem.objects.filter(kind="broadcast", purpose=f"emergency:{switch.pk}").exists()
    assert emergency.deliveries_paused()
    assert set(due_run_ids()) == {runs["disaster"]}  # the 子育て delivery waits for the revert
    with pytest.raises(emergency.EmergencyError, match="すでに切り替えています"):
        emergency.switch_on(menu_set=town["emergency"], user=staff)

    with mock.patch("richmenus.emergency.async_task"), django_capture_on_commit_callbacks(execute=True):
        emergency.switch_off(user=staff)
    assert emergency.revert(switch.pk) == "元のメニューに戻しました"
    assert emergency.revert(switch.pk).startswith("nothing to do")  # a second run changes nothing
    after = {name: sees(emu, user) for name, user in town["users"].items()}
    assert after == town["before"]
    on_line = {menu["richMenuId"] for menu in emu.rich_menus()["richMenus"]}
    assert on_line.isdisjoint(copies)
    assert not emergency.deliveries_paused() and emergency.active() is None
    assert set(due_run_ids()) == set(runs.values())
    actions = list(
        OperationLogEntry.objects.filter(action__startswith="kairan.emergency").values_list(
            "action", flat=True
        )
    )
    assert actions.count("kairan.emergency.on") == 1 and actions.count("kairan.emergency.off") == 1
    assert actions.count("kairan.emergency.step") == 2


def test_a_rehearsal_reaches_testers_only(town: dict[str, Any], emu: Any, make_staff: Any) -> None:
    from deliveries.models import Tester
    from line_channel.models import Follower

    staff = make_staff("kunren")
    tester = town["users"]["tab2"]
    from django.utils import timezone

    from line_channel import followers

    followers.record_follow(line_user_id=tester, at=timezone.now(), event_id="follow-tester")
    Tester.objects.create(follower=Follower.objects.get(line_user_id=tester), label="防災課")
    with mock.patch("richmenus.emergency.async_task"):
        switch = emergency.switch_on(menu_set=town["emergency"], user=staff, rehearsal=True)
    emergency.apply(switch.pk)
    emergency_tab = PublishedMenu.objects.get(menu_set=town["emergency"], state="live").rich_menu_id
    assert sees(emu, tester) == ("user", emergency_tab)
    assert sees(emu, town["users"]["default"]) == town["before"]["default"]
    assert not emergency.deliveries_paused()
    with mock.patch("richmenus.emergency.async_task"):
        emergency.switch_off(user=staff, rehearsal=True)
    emergency.revert(switch.pk)
    assert {name: sees(emu, user) for name, user in town["users"].items()} == town["before"]


def test_an_unpublished_or_normal_set_cannot_be_switched_to(home_page: Page, make_staff: Any) -> None:
    staff = make_staff("bousai")
    with pytest.raises(emergency.EmergencyError, match="災害時のメニューセット"):
        emergency.switch_on(menu_set=two_tabs(home_page), user=staff)
    with pytest.raises(emergency.EmergencyError, match="まだ LINE に公開されていません"):
        emergency.switch_on(menu_set=emergency_set(), user=staff)
    assert not EmergencySwitch.objects.exists()


def test_an_approver_switches_in_two_clicks_sees_the_banner_everywhere_and_reverts(
    town: dict[str, Any], emu: Any, make_staff: Any, client: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from bs4 import BeautifulSoup
    from django.contrib.auth.models import Group
    from django.urls import reverse
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from kairan.staff.roles import APPROVER, EDITOR
    from tests.conftest import STAFF_PASSWORD, totp_code

    approver = make_staff("shonin", APPROVER)
    TOTPDevice.objects.create(user=approver, name="認証アプリ", confirmed=True)
    client.post(reverse("wagtailadmin_login"), {"username": "shonin", "password": STAFF_PASSWORD})
    client.post(reverse("kairan_mfa_verify"), {"token": totp_code(approver), "next": "/admin/"})

    # Click 1: 「災害モード」 in the menu of any admin page opens the switch, which is its confirmation.
    home = BeautifulSoup(client.get("/admin/").content.decode(), "html.parser")
    assert "災害モードに切り替える" in home.get_text()
    url = reverse("richmenus_emergency:index")
    page = client.get(url)
    assert page.status_code == 200 and "災害時メニュー" in page.content.decode()
    # Click 2: 切り替える.
    with mock.patch("richmenus.emergency.async_task"), django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"menu_set": town["emergency"].pk, "pause_deliveries": "on", "alert": ""})
    assert response.status_code == 302
    switch = EmergencySwitch.objects.get()
    emergency.apply(switch.pk)
    for admin_page in ("/admin/", "/admin/snippets/richmenus/menuset/", url):
        text = BeautifulSoup(client.get(admin_page).content.decode(), "html.parser").get_text()
        assert "災害モード中" in text, admin_page
    assert sees(emu, town["users"]["tab2"])[1] in {c["to"] for c in EmergencySwitch.objects.get().copies}

    with mock.patch("richmenus.emergency.async_task"), django_capture_on_commit_callbacks(execute=True):
        client.post(url, {"revert": "real"})
    emergency.revert(switch.pk)
    assert "災害モード中" not in client.get("/admin/").content.decode()
    assert {name: sees(emu, user) for name, user in town["users"].items()} == town["before"]
    history = BeautifulSoup(client.get(url).content.decode(), "html.parser").find(id="emergency-history")
    assert history is not None and "解除済み" in history.get_text()

    # A 担当者 cannot switch.
    client.logout()
    client.force_login(make_staff("tanto", EDITOR))
    assert client.get(url).status_code in (302, 403)
    assert not Group.objects.get(name=EDITOR).permissions.filter(codename="switch_emergency").exists()


def test_a_scheduled_switch_starts_and_ends_on_time(
    town: dict[str, Any], emu: Any, make_staff: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    staff = make_staff("bousai")
    now = timezone.now()
    with pytest.raises(emergency.EmergencyError, match="終了日時は開始日時より後"):
        emergency.switch_on(
            menu_set=town["emergency"],
            user=staff,
            starts_at=now + timedelta(hours=2),
            ends_at=now + timedelta(hours=1),
        )
    switch = emergency.switch_on(
        menu_set=town["emergency"],
        user=staff,
        starts_at=now + timedelta(hours=1),
        ends_at=now + timedelta(hours=3),
    )
    assert switch.state == "scheduled" and emergency.active() is None and not emergency.deliveries_paused()
    assert emergency.run_due() == 0  # not yet

    with mock.patch("django.utils.timezone.now", return_value=now + timedelta(hours=1, seconds=1)):
        with (
            mock.patch("richmenus.emergency.async_task") as queued,
            django_capture_on_commit_callbacks(execute=True),
        ):
            assert emergency.run_due() == 1
        queued.assert_called_once_with("richmenus.tasks.apply_emergency", switch.pk, group="richmenus")
    emergency.apply(switch.pk)
    assert all(sees(emu, user)[1] != town["before"][name][1] for name, user in town["users"].items())

    with (
        mock.patch("django.utils.timezone.now", return_value=now + timedelta(hours=3, seconds=1)),
        mock.patch("richmenus.emergency.async_task"),
    ):
        assert emergency.run_due() == 1
    switch.refresh_from_db()
    assert switch.state == "reverting" and switch.ended_by == "自動（終了日時になりました）"
    emergency.revert(switch.pk)
    assert {name: sees(emu, user) for name, user in town["users"].items()} == town["before"]

    # A switch scheduled and then cancelled never starts.
    later = emergency.switch_on(menu_set=town["emergency"], user=staff, starts_at=now + timedelta(days=1))
    assert emergency.cancel_scheduled(user=staff)
    later.refresh_from_db()
    with mock.patch("django.utils.timezone.now", return_value=now + timedelta(days=2)):
        assert emergency.run_due() == 0
    assert later.state == "cancelled"


def test_with_the_setting_a_second_person_must_approve_the_switch(
    town: dict[str, Any], emu: Any, make_staff: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from richmenus.models import EmergencySettings

    config = EmergencySettings.load()
    config.second_person = True
    config.save()
    first, second = make_staff("bousai1"), make_staff("bousai2")
    with (
        mock.patch("richmenus.emergency.async_task") as queued,
        django_capture_on_commit_callbacks(execute=True),
    ):
        switch = emergency.switch_on(menu_set=town["emergency"], user=first)
    assert switch.state == "requested" and not queued.called and emergency.active() is None
    with pytest.raises(emergency.EmergencyError, match="承認を待っている切替があります"):
        emergency.switch_on(menu_set=town["emergency"], user=second)
    with pytest.raises(emergency.EmergencyError, match="別の職員が承認してください"):
        emergency.approve(user=first)
    with (
        mock.patch("richmenus.emergency.async_task") as queued,
        django_capture_on_commit_callbacks(execute=True),
    ):
        emergency.approve(user=second)
    queued.assert_called_once_with("richmenus.tasks.apply_emergency", switch.pk, group="richmenus")
    switch.refresh_from_db()
    assert switch.state == "switching" and switch.approved_by
    emergency.apply(switch.pk)
    assert emergency.active() is not None
    # A rehearsal needs no second person.
    with mock.patch("richmenus.emergency.async_task"):
        rehearsal = emergency.switch_on(menu_set=town["emergency"], user=first, rehearsal=True)
    assert rehearsal.state == "switching"
