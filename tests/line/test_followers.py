"""Followers (友だち): follow, block, unblock and re-follow with their times; profiles through the
gateway (and later, when LINE fails); the daily friend-count series; the admin list over HTTP."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from bs4 import BeautifulSoup
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from openpyxl import load_workbook

from emulator.client import EmulatorControl
from kairan.staff.roles import ADMIN, APPROVER, EDITOR, VIEWER
from line_channel import events, followers, tasks
from line_channel.models import FollowChange, Follower, WebhookEvent
from tests.conftest import STAFF_PASSWORD, totp_code
from tests.line.test_events import make_event

pytestmark = pytest.mark.django_db

LIST = "/admin/line/followers/"
_n = iter(range(10**6))


def at_local(day: date, hour: int = 12) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour)))


def follow(user: str, when: datetime, *, unblocked: bool = False) -> Follower:
    return followers.record_follow(
        line_user_id=user, at=when, event_id=f"ev-follow-{next(_n)}", unblocked=unblocked
    )


def unfollow(user: str, when: datetime) -> Follower:
    return followers.record_unfollow(line_user_id=user, at=when, event_id=f"ev-unfollow-{next(_n)}")


# --- state changes ------------------------------------------------------------------------------


def test_follow_block_unblock_delete_and_follow_again() -> None:
    t0 = timezone.now() - timedelta(days=3)
    first = follow("U1", t0)
    assert first.status == Follower.Status.FOLLOWING
    assert first.first_followed_at == first.followed_at == t0 and first.unfollowed_at is None

    blocked = unfollow("U1", t0 + timedelta(hours=1))
    assert blocked.status == Follower.Status.BLOCKED and blocked.unfollowed_at == t0 + timedelta(hours=1)

    back = follow("U1", t0 + timedelta(days=1), unblocked=True)
    assert back.status == Follower.Status.FOLLOWING
    assert back.followed_at == t0 + timedelta(days=1) and back.first_followed_at == t0
    assert back.unfollowed_at == t0 + timedelta(hours=1)  # the last block stays on record

    unfollow("U1", t0 + timedelta(days=2))  # deleted the account from the friend list
    again = follow("U1", t0 + timedelta(days=2, hours=3))  # added again: a plain follow
    kinds = list(FollowChange.objects.order_by("at").values_list("kind", flat=True))
    assert kinds == ["follow", "unfollow", "unblock", "unfollow", "follow"]
    assert again.status == Follower.Status.FOLLOWING and again.first_followed_at == t0
    assert Follower.objects.count() == 1


def test_the_same_event_twice_is_recorded_once() -> None:
    when = timezone.now()
    followers.record_follow(line_user_id="U2", at=when, event_id="01SAME")
    followers.record_unfollow(line_user_id="U2", at=when + timedelta(minutes=1), event_id="01SAME2")
    followers.record_follow(line_user_id="U2", at=when, event_id="01SAME")
    assert FollowChange.objects.count() == 2
    assert Follower.objects.get().status == Follower.Status.BLOCKED


def test_events_processed_out_of_order_leave_the_latest_state() -> None:
    t0 = timezone.now() - timedelta(hours=5)
    follow("U3", t0 + timedelta(hours=2))  # the re-follow is processed first ...
    late = unfollow("U3", t0)  # ... then the older block (a redelivery)
    assert late.status == Follower.Status.FOLLOWING
    assert late.followed_at == t0 + timedelta(hours=2) and late.unfollowed_at == t0
    assert late.first_followed_at == t0  # the best we know: a friend before the block


# --- profiles ---------------------------------------------------------------------------------------


def test_profile_is_fetched_through_the_gateway_and_stored_encrypted(
    line_channel: Any, emu: EmulatorControl
) -> None:
    user = emu.create_user("大船渡 一郎", language="en", pictureUrl="https://example.jp/p.png")
    emu.follow(user["user_id"])
    events.store_events([make_event(user["user_id"], at=timezone.now(), event_type="follow")])
    assert tasks.process_pending_webhook_events() == 1
    friend = Follower.objects.get()
    assert (friend.display_name, friend.language, friend.picture_url) == (
        "大船渡 一郎",
        "en",
        "https://example.jp/p.png",
    )
    assert friend.profile_fetched_at is not None
    with connection.cursor() as cursor:
        cursor.execute("SELECT display_name, picture_url FROM line_channel_follower")
        name, picture = cursor.fetchone()
    assert name.startswith("aesgcm:") and "一郎" not in name and "example.jp" not in picture


def test_a_profile_lines_fails_to_give_is_fetched_later_by_the_schedule(
    line_channel: Any, emu: EmulatorControl
) -> None:
    user = emu.create_user("陸前 花子")["user_id"]
    emu.follow(user)
    emu.set_faults({"profile": {"error_rate": 1.0, "status": 500}})
    events.store_events([make_event(user, at=timezone.now(), event_type="follow")])
    tasks.process_pending_webhook_events()
    kept = Follower.objects.get()
    assert kept.status == Follower.Status.FOLLOWING and kept.display_name == ""
    assert kept.profile_fetched_at is None
    assert WebhookEvent.objects.get().state == WebhookEvent.State.DONE  # the follow itself is recorded

    assert tasks.refresh_follower_profiles() == 0  # LINE still failing: nothing changes
    emu.set_faults({})
    assert tasks.refresh_follower_profiles() == 1
    assert Follower.objects.get().display_name == "陸前 花子"
    assert tasks.refresh_follower_profiles() == 0


def test_no_profile_call_for_a_friend_who_blocked_in_the_same_batch(line_channel: Any) -> None:
    now = timezone.now()
    events.store_events(
        [
            make_event("U9", at=now, event_type="follow", follow={"isUnblocked": False}),
            make_event("U9", at=now + timedelta(seconds=2), event_type="unfollow"),
        ]
    )

    def no_gateway() -> Any:
        raise AssertionError("no profile is fetched for a friend who blocked")

    events.process_pending(context=events.HandlerContext(gateway_factory=no_gateway))
    assert Follower.objects.get().status == Follower.Status.BLOCKED


# --- the series ------------------------------------------------------------------------------------------


def make_history(today: date) -> None:
    """4 days: D was a friend before Kairan saw anything and blocks on day -1."""
    follow("UA", at_local(today - timedelta(days=3), 9))
    follow("UB", at_local(today - timedelta(days=3), 10))
    follow("UC", at_local(today - timedelta(days=2), 9))
    unfollow("UA", at_local(today - timedelta(days=2), 18))
    follow("UA", at_local(today - timedelta(days=1), 8), unblocked=True)
    unfollow("UD", at_local(today - timedelta(days=1), 20))
    follow("UE", at_local(today, 0))
    follow("UB", at_local(today, 0))  # a second follow in a row changes nothing


def test_daily_series_and_counts() -> None:
    today = timezone.localdate()
    make_history(today)
    series = followers.daily_series(start=today - timedelta(days=4), end=today + timedelta(days=3))
    assert [(d.day, d.friends, d.gained, d.lost) for d in series] == [
        (today - timedelta(days=4), 1, 0, 0),
        (today - timedelta(days=3), 3, 2, 0),
        (today - timedelta(days=2), 3, 1, 1),
        (today - timedelta(days=1), 3, 1, 1),
        (today, 4, 1, 0),
    ]
    counts = followers.friend_counts()
    assert (counts.friends, counts.blocked) == (4, 1)
    assert (counts.today.gained, counts.today.lost, counts.today.net) == (1, 0, 1)
    middle = followers.daily_series(start=today - timedelta(days=2), end=today - timedelta(days=1))
    assert [d.friends for d in middle] == [3, 3]
    assert followers.daily_series(start=today + timedelta(days=1)) == []


# --- the admin list --------------------------------------------------------------------------------------


def signed_in_admin(make_staff: Any, client: Client) -> User:
    admin: User = make_staff("kanri", ADMIN, superuser=True)
    TOTPDevice.objects.create(user=admin, name="認証アプリ", confirmed=True)
    client.post(reverse("wagtailadmin_login"), {"username": "kanri", "password": STAFF_PASSWORD})
    client.post(reverse("kairan_mfa_verify"), {"token": totp_code(admin), "next": "/admin/"})
    return admin


def named(user: str, name: str, language: str = "ja") -> None:
    Follower.objects.filter(line_user_id=user).update(
        display_name=name, language=language, profile_fetched_at=timezone.now()
    )


def rows_of(response: Any) -> list[list[str]]:
    soup = BeautifulSoup(response.content.decode(), "html.parser")
    table = soup.select_one("table.listing:not([data-kairan-series])")
    if table is None:
        return []
    return [[cell.get_text(" ", strip=True) for cell in row.select("td")] for row in table.select("tbody tr")]


def test_followers_list_with_counts_series_filters_and_export(make_staff: Any, client: Client) -> None:
    today = timezone.localdate()
    make_history(today)
    named("UA", "大船渡 一郎")
    named("UB", "Alice", "en")
    named("UD", "盛 花子")
    signed_in_admin(make_staff, client)

    home = client.get("/admin/").content.decode()
    assert '"name": "line-followers"' in home and LIST in home  # the sidebar's 友だち item

    response = client.get(LIST)
    assert response.status_code == 200
    soup = BeautifulSoup(response.content.decode(), "html.parser")
    counts = {
        dd["data-kairan-count"]: dd.get_text(" ", strip=True) for dd in soup.select("dd[data-kairan-count]")
    }
    assert counts["friends"] == "4人" and counts["blocked"] == "1人" and counts["today"].startswith("+1人")
    headings = [
        th.get_text(strip=True) for th in soup.select("table.listing:not([data-kairan-series]) thead th")
    ]
    assert headings == ["表示名", "状態", "友だち追加", "ブロック", "言語"]
    rows = rows_of(response)
    assert len(rows) == 5
    by_name = {row[0]: row for row in rows}
    assert by_name["Alice"][1] == "友だち" and by_name["Alice"][4] == "英語"
    assert by_name["盛 花子"][1] == "ブロック中" and by_name["盛 花子"][3]
    assert by_name["（プロフィール取得待ち）"][1] == "友だち"

    chart = soup.select_one("svg[data-kairan-chart]")
    assert chart is not None and chart["role"] == "img"
    description = chart.select_one("desc")
    assert description is not None and "最終日 4人" in description.get_text()
    series_rows = soup.select("table[data-kairan-series] tbody tr")
    assert len(series_rows) == 30
    assert [c.get_text(strip=True) for c in series_rows[-1].select("td")] == ["4", "1", "0", "+1"]
    assert soup.select_one("[data-kairan-help=followers]") is not None

    blocked = rows_of(client.get(LIST, {"status": "blocked"}))
    assert [row[0] for row in blocked] == ["盛 花子"]
    period = {"period_from": (today - timedelta(days=1)).isoformat(), "period_to": today.isoformat()}
    recent = client.get(LIST, period)
    assert sorted(row[0] for row in rows_of(recent)) == sorted(
        ["大船渡 一郎", "盛 花子", "Alice", "（プロフィール取得待ち）"]
    )
    recent_soup = BeautifulSoup(recent.content.decode(), "html.parser")
    assert len(recent_soup.select("table[data-kairan-series] tbody tr")) == 2
    results = client.get(LIST + "results/", {"status": "following"})
    assert results.status_code == 200 and "data-kairan-chart" in results.content.decode()

    export = client.get(LIST, {"export": "csv", "encoding": "utf-8", "status": "following"})
    data = b"".join(export.streaming_content)  # type: ignore[attr-defined]
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert table[0] == [
        "表示名",
        "状態",
        "友だち追加",
        "ブロック",
        "最初の友だち追加",
        "言語",
        "LINE ユーザーID",
    ]
    assert sorted(row[6] for row in table[1:]) == ["UA", "UB", "UC", "UE"]
    xlsx = client.get(LIST, {"export": "xlsx"})
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None and sheet.max_row == 6


@pytest.mark.parametrize(("role", "allowed"), [(APPROVER, True), (VIEWER, True), (EDITOR, False)])
def test_who_may_see_the_followers_list(make_staff: Any, client: Client, role: str, allowed: bool) -> None:
    follow("UZ", timezone.now())
    client.force_login(make_staff("shokuin", role))
    response = client.get(LIST)
    home = client.get("/admin/").content.decode()
    if allowed:
        assert response.status_code == 200 and LIST in home
    else:
        assert response.status_code in (302, 403) and LIST not in home
        assert client.get(LIST, {"export": "csv"}).status_code in (302, 403)
