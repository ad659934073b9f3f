"""Rich menu insight through the SDK's ``linebot.v3.insight.Insight``: impressions (the simulator's
timeline and taps) and clicks per area (taps) of virtual users, summed and per day, LINE's privacy
threshold, the period rules and the error answers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from linebot.v3.insight import ApiClient, ApiException, Configuration, Insight
from linebot.v3.messaging import MessagingApi, MessagingApiBlob

from emulator.client import EmulatorControl, EmulatorError
from emulator.config import ChannelSpec, EmulatorConfig
from emulator.messaging_common import JST
from emulator.server import RunningEmulator
from emulator.state import RichMenuImpression, RichMenuTap, Store
from tests.emulator import openapi
from tests.emulator.test_richmenu import LARGE, image_bytes, menu_request, upload

DAY = 24 * 3600
HALF = LARGE[0] // 2
LEFT = {"x": 0, "y": 0, "width": HALF, "height": LARGE[1]}
RIGHT = {"x": HALF, "y": 0, "width": LARGE[0] - HALF, "height": LARGE[1]}
BASE = "/v2/bot/insight/richmenu"


@pytest.fixture
def insight(emulator: RunningEmulator, emu: EmulatorControl) -> Iterator[Insight]:
    configuration = Configuration(
        host=emulator.config.api_base, access_token=emulator.config.channels[0].access_token
    )
    with ApiClient(configuration) as client:
        yield Insight(client)


@pytest.fixture
def threshold(emu: EmulatorControl) -> Iterator[None]:
    """Put the privacy threshold back after a test that changes it."""
    before = emu.settings()["richmenu_insight_threshold"]
    yield
    emu.settings(richmenu_insight_threshold=before)


# --- helpers ---------------------------------------------------------------------------------------


def to_noon(emulator: RunningEmulator, emu: EmulatorControl) -> None:
    """Move the emulator clock to the next 12:00 in Japan, so that a test's days never split."""
    now = datetime.fromtimestamp(emulator.store.now(), JST)
    noon = now.replace(hour=12, minute=0, second=0, microsecond=0)
    if noon <= now:
        noon += timedelta(days=1)
    emu.advance_clock((noon - now).total_seconds())


def day(emulator: RunningEmulator, offset: int = 0) -> str:
    """A Japan-time day as ``yyyyMMdd``, ``offset`` days from today (negative: before)."""
    return (datetime.fromtimestamp(emulator.store.now(), JST) + timedelta(days=offset)).strftime("%Y%m%d")


def default_menu(api: MessagingApi, blob_api: MessagingApiBlob, name: str = "大船渡市メニュー") -> str:
    """A two-area menu (left half, right half) with its image, set as the default."""
    rich_menu_id = api.create_rich_menu(menu_request(name=name)).rich_menu_id
    upload(blob_api, rich_menu_id, image_bytes())
    api.set_default_rich_menu(rich_menu_id)
    return rich_menu_id


def conforms(kind: str, rich_menu_id: str, status: int, body: Any) -> None:
    """The answer matches LINE's schema for it (checked when the OpenAPI files are present)."""
    if (openapi.SPEC_DIR / "insight.yml").exists():
        path = f"{BASE}/{rich_menu_id}/{kind}"
        assert openapi.response_errors("insight.yml", "GET", path, status, body) == []


def summary(insight: Insight, rich_menu_id: str, start: str, end: str) -> dict[str, Any]:
    response = insight.get_rich_menu_insight_summary_with_http_info(rich_menu_id, start, end)
    assert response.data.rich_menu_id == rich_menu_id  # the SDK reads the answer
    body: dict[str, Any] = json.loads(response.raw_data)
    conforms("summary", rich_menu_id, 200, body)
    return body


def daily(insight: Insight, rich_menu_id: str, start: str, end: str) -> dict[str, Any]:
    response = insight.get_rich_menu_insight_daily_with_http_info(rich_menu_id, start, end)
    assert response.data.rich_menu_id == rich_menu_id
    body: dict[str, Any] = json.loads(response.raw_data)
    conforms("daily", rich_menu_id, 200, body)
    return body


def totals(body: dict[str, Any]) -> tuple[tuple[int, int], list[tuple[int, int]]]:
    """(impression count, unique users) and the same per area, from a summary."""
    impression = body["impression"]["metrics"]
    clicks = [(c["metrics"]["count"], c["metrics"]["uniqueUsers"]) for c in body["clicks"]]
    return (impression["count"], impression["uniqueUsers"]), clicks


def per_day(metrics: list[dict[str, Any]]) -> dict[str, tuple[int, int]]:
    return {m["date"]: (m["count"], m["uniqueUsers"]) for m in metrics}


def error_of(excinfo: pytest.ExceptionInfo[ApiException]) -> tuple[int, dict[str, Any]]:
    return excinfo.value.status, json.loads(excinfo.value.body)


def raw(emulator: RunningEmulator, path: str, token: str | None = None) -> httpx.Response:
    """A request the SDK will not build (a missing parameter), sent as LINE gets it."""
    token = token or emulator.config.channels[0].access_token
    return httpx.get(emulator.config.api_base + path, headers={"Authorization": f"Bearer {token}"})


# --- numbers -----------------------------------------------------------------------------------


def test_summary_counts_impressions_and_clicks_per_area(
    insight: Insight,
    api: MessagingApi,
    blob_api: MessagingApiBlob,
    emulator: RunningEmulator,
    emu: EmulatorControl,
    threshold: None,
) -> None:
    emu.settings(richmenu_insight_threshold=0)
    to_noon(emulator, emu)
    menu = default_menu(api, blob_api)
    a, b, c = emu.create_followers(3)
    for _ in range(3):
        assert emu.timeline(a)["richMenu"]["richMenuId"] == menu  # polled: one impression
    emu.tap(a, area=0)
    emu.tap(a, area=0)
    emu.tap(a, x=HALF + 10, y=10)  # the right half, by position
    emu.timeline(b)
    emu.tap(b, area=0)
    emu.timeline(c)  # sees the menu, taps nothing
    today = day(emulator)

    # Today is still being counted: no day is covered yet.
    body = summary(insight, menu, today, today)
    assert (body["metricsFrom"], body["metricsTo"]) == (None, None)
    assert totals(body) == ((0, 0), [(0, 0), (0, 0)])

    emu.advance_clock(DAY)
    body = summary(insight, menu, day(emulator, -3), day(emulator))
    # Covered: from the menu's creation day to yesterday.
    assert (body["richMenuId"], body["metricsFrom"], body["metricsTo"]) == (menu, today, today)
    assert totals(body) == ((3, 3), [(3, 2), (1, 1)])
    assert [click["bounds"] for click in body["clicks"]] == [LEFT, RIGHT]

    # The SDK's models carry the same numbers.
    result = insight.get_rich_menu_insight_summary(menu, today, today)
    assert result.impression is not None and result.clicks is not None
    assert (result.impression.metrics.count, result.impression.metrics.unique_users) == (3, 3)
    assert [(c.bounds.x, c.metrics.count, c.metrics.unique_users) for c in result.clicks] == [
        (0, 3, 2),
        (HALF, 1, 1),
    ]


def test_daily_numbers_leave_out_days_without_events(
    insight: Insight,
    api: MessagingApi,
    blob_api: MessagingApiBlob,
    emulator: RunningEmulator,
    emu: EmulatorControl,
    threshold: None,
) -> None:
    emu.settings(richmenu_insight_threshold=0)
    to_noon(emulator, emu)
    menu = default_menu(api, blob_api)
    a, b = emu.create_followers(2)
    first = day(emulator)
    emu.timeline(a)
    emu.tap(a, area=0)
    emu.tap(a, area=1)
    emu.advance_clock(DAY)  # a quiet day
    second = day(emulator)
    emu.advance_clock(DAY)
    third = day(emulator)
    emu.timeline(a)  # a new day: the same menu counts again
    emu.tap(a, area=1)
    emu.tap(b, area=1)  # b never opened the timeline: the tap is b's impression
    emu.tap(b, area=1)
    emu.advance_clock(DAY)

    body = daily(insight, menu, first, day(emulator))
    assert (body["metricsFrom"], body["metricsTo"]) == (first, third)
    assert per_day(body["impression"]["metrics"]) == {first: (1, 1), third: (2, 2)}
    left, right = body["clicks"]
    assert (left["bounds"], right["bounds"]) == (LEFT, RIGHT)
    assert per_day(left["metrics"]) == {first: (1, 1)}
    assert per_day(right["metrics"]) == {first: (1, 1), third: (3, 2)}
    assert second not in per_day(body["impression"]["metrics"])

    # The days asked for only: the quiet day alone, then one day with events.
    quiet = daily(insight, menu, second, second)
    assert (quiet["metricsFrom"], quiet["metricsTo"]) == (second, second)
    assert quiet["impression"]["metrics"] == []
    assert [c["metrics"] for c in quiet["clicks"]] == [[], []]
    late = daily(insight, menu, third, third)
    assert per_day(late["impression"]["metrics"]) == {third: (2, 2)}

    # The summary of the same period adds the days up; unique users are over the whole period.
    assert totals(summary(insight, menu, first, third)) == ((3, 2), [(1, 1), (4, 2)])

    # The SDK reads the daily models.
    result = insight.get_rich_menu_insight_daily(menu, first, third)
    assert result.clicks is not None
    assert [(m.var_date, m.count, m.unique_users) for m in result.clicks[1].metrics] == [
        (first, 1, 1),
        (third, 3, 2),
    ]


def test_an_impression_is_counted_when_the_menu_changes_or_a_day_passes(
    insight: Insight,
    api: MessagingApi,
    blob_api: MessagingApiBlob,
    emulator: RunningEmulator,
    emu: EmulatorControl,
    threshold: None,
) -> None:
    emu.settings(richmenu_insight_threshold=0)
    to_noon(emulator, emu)
    menu_a = default_menu(api, blob_api, "A")
    menu_b = api.create_rich_menu(menu_request(name="B")).rich_menu_id
    upload(blob_api, menu_b, image_bytes())
    (user,) = emu.create_followers(1)
    first = day(emulator)
    emu.timeline(user)
    emu.timeline(user)
    emu.tap(user, area=0)  # already shown today: no new impression
    api.link_rich_menu_id_to_user(user, menu_b)
    emu.timeline(user)
    emu.timeline(user)
    api.unlink_rich_menu_id_from_user(user)
    emu.timeline(user)  # A again after B: a new impression
    emu.tap(user, x=LARGE[0] + 5, y=5)  # outside the menu: no click, A already shown
    emu.advance_clock(3 * 3600)  # 15:00, the same day
    emu.timeline(user)
    emu.advance_clock(DAY)
    emu.timeline(user)  # the next day: counted again
    emu.advance_clock(DAY)

    a = summary(insight, menu_a, first, day(emulator))
    assert totals(a) == ((3, 1), [(1, 1), (0, 0)])
    assert per_day(daily(insight, menu_a, first, day(emulator))["impression"]["metrics"]) == {
        first: (2, 1),
        day(emulator, -1): (1, 1),
    }
    # Menu B: its own impression, none of A's clicks.
    assert totals(summary(insight, menu_b, first, day(emulator))) == ((1, 1), [(0, 0), (0, 0)])


def test_taps_are_recorded_with_the_areas_bounds(
    api: MessagingApi, blob_api: MessagingApiBlob, emulator: RunningEmulator, emu: EmulatorControl
) -> None:
    menu = default_menu(api, blob_api)
    (user,) = emu.create_followers(1)
    emu.tap(user, x=HALF + 1, y=LARGE[1] - 1)
    emu.tap(user, x=-1, y=0)  # no area: no click
    channel = emulator.store.default_channel()
    (tap,) = channel.rich_menu_taps
    assert (tap.rich_menu_id, tap.area, tap.bounds, tap.user_id) == (menu, 1, RIGHT, user)
    assert abs(tap.at - emulator.store.now()) < 5
    assert [(i.rich_menu_id, i.user_id) for i in channel.rich_menu_impressions] == [(menu, user)]
    # A user who cannot tap (no longer a friend) adds nothing.
    emu.block(user)
    with pytest.raises(EmulatorError):
        emu.tap(user, area=0)
    assert len(channel.rich_menu_taps) == 1


def test_taps_and_impressions_survive_a_save_and_load(tmp_path: Path) -> None:
    store = Store(EmulatorConfig(channels=[ChannelSpec()]))
    channel = store.default_channel()
    channel.rich_menu_taps.append(
        RichMenuTap(rich_menu_id="richmenu-" + "a" * 32, area=1, bounds=dict(RIGHT), user_id="U1", at=1.5)
    )
    channel.rich_menu_impressions.append(
        RichMenuImpression(rich_menu_id="richmenu-" + "a" * 32, user_id="U1", at=1.0)
    )
    channel.rich_menu_seen["U1"] = 0
    path = tmp_path / "state.json"
    store.save(path)
    loaded = Store(EmulatorConfig(channels=[ChannelSpec()]))
    assert loaded.load(path)
    again = loaded.default_channel()
    assert again.rich_menu_taps == channel.rich_menu_taps
    assert again.rich_menu_impressions == channel.rich_menu_impressions
    assert again.rich_menu_seen == {"U1": 0}


# --- the privacy threshold ----------------------------------------------------------------------


def test_below_the_privacy_threshold_only_the_menu_id_is_returned(
    insight: Insight,
    api: MessagingApi,
    blob_api: MessagingApiBlob,
    emulator: RunningEmulator,
    emu: EmulatorControl,
    threshold: None,
) -> None:
    assert EmulatorConfig().richmenu_insight_threshold == 20  # LINE: 20 users who tapped
    assert emu.settings()["richmenu_insight_threshold"] == 20
    to_noon(emulator, emu)
    menu = default_menu(api, blob_api)
    users = emu.create_followers(20)
    first = day(emulator)
    for user in users[:19]:
        emu.tap(user, area=0)
    for _ in range(5):
        emu.tap(users[0], area=1)  # many taps by one user are still one user
    emu.advance_clock(DAY)
    second = day(emulator)
    assert summary(insight, menu, first, second) == {"richMenuId": menu}
    assert daily(insight, menu, first, second) == {"richMenuId": menu}
    result = insight.get_rich_menu_insight_summary(menu, first, second)
    assert (result.impression, result.clicks, result.metrics_from) == (None, None, None)

    # The 20th user taps the next day: a period with both days reaches the threshold.
    emu.tap(users[19], area=1)
    emu.advance_clock(DAY)
    assert summary(insight, menu, first, first) == {"richMenuId": menu}
    assert totals(summary(insight, menu, first, second)) == ((20, 20), [(19, 19), (6, 2)])
    both = daily(insight, menu, first, second)
    assert per_day(both["impression"]["metrics"]) == {first: (19, 19), second: (1, 1)}

    # The threshold is a setting: higher hides the numbers, 0 shows them without any click.
    assert emu.settings(richmenu_insight_threshold=21)["richmenu_insight_threshold"] == 21
    assert summary(insight, menu, first, second) == {"richMenuId": menu}
    emu.settings(richmenu_insight_threshold=0)
    quiet = summary(insight, menu, day(emulator, -6), day(emulator, -3))
    assert (quiet["metricsFrom"], quiet["metricsTo"]) == (None, None)  # before the menu existed
    assert totals(quiet) == ((0, 0), [(0, 0), (0, 0)])
    for bad in (-1, "20", True, 1.5):
        with pytest.raises(EmulatorError, match="400"):
            emu.settings(richmenu_insight_threshold=bad)
    assert emu.settings()["richmenu_insight_threshold"] == 0


# --- periods and errors --------------------------------------------------------------------------


def test_period_rules_and_lines_errors(
    insight: Insight,
    api: MessagingApi,
    blob_api: MessagingApiBlob,
    emulator: RunningEmulator,
    emu: EmulatorControl,
) -> None:
    to_noon(emulator, emu)
    menu = default_menu(api, blob_api)
    today = datetime.fromtimestamp(emulator.store.now(), JST).date()

    def ymd(value: Any) -> str:
        return str(value.strftime("%Y%m%d"))

    def refused(kind: str, start: str, end: str) -> dict[str, str]:
        call = (
            insight.get_rich_menu_insight_summary
            if kind == "summary"
            else insight.get_rich_menu_insight_daily
        )
        with pytest.raises(ApiException) as excinfo:
            call(menu, start, end)
        status, body = error_of(excinfo)
        assert status == 400, body
        conforms(kind, menu, 400, body)
        return {d["property"]: d["message"] for d in body["details"]}

    # Up to 396 days after from for the summary, 99 for the daily numbers; to is inclusive.
    start = today - timedelta(days=400)
    assert summary(insight, menu, ymd(start), ymd(start + timedelta(days=396))) == {"richMenuId": menu}
    assert "to" in refused("summary", ymd(start), ymd(start + timedelta(days=397)))
    assert daily(insight, menu, ymd(start), ymd(start + timedelta(days=99))) == {"richMenuId": menu}
    assert "to" in refused("daily", ymd(start), ymd(start + timedelta(days=100)))
    # to before from; a from older than 3 years; dates that are not dates.
    assert "to" in refused("summary", ymd(today), ymd(today - timedelta(days=1)))
    three_years = today.replace(year=today.year - 3) if (today.month, today.day) != (2, 29) else None
    if three_years is not None:
        assert summary(insight, menu, ymd(three_years), ymd(three_years)) == {"richMenuId": menu}
        assert "from" in refused("summary", ymd(three_years - timedelta(days=1)), ymd(three_years))
    assert "from" in refused("daily", "2026-1-1", ymd(today))
    assert "to" in refused("daily", ymd(today), "20261332")
    assert "from" in refused("summary", "abcdefgh", ymd(today))

    # Missing parameters (the SDK insists on both): 400 with the parameter named.
    for path in (f"{BASE}/{menu}/summary?to={ymd(today)}", f"{BASE}/{menu}/daily?from={ymd(today)}"):
        response = raw(emulator, path)
        assert response.status_code == 400
        assert response.headers["x-line-request-id"]
        missing = "from" if "summary" in path else "to"
        assert [d["property"] for d in response.json()["details"]] == [missing]
        conforms(path.split("?")[0].rsplit("/", 1)[1], menu, 400, response.json())

    # An unknown or deleted menu: 404 with LINE's error body.
    unknown = "richmenu-" + "0" * 32
    for kind in ("summary", "daily"):
        call = (
            insight.get_rich_menu_insight_summary
            if kind == "summary"
            else insight.get_rich_menu_insight_daily
        )
        with pytest.raises(ApiException) as excinfo:
            call(unknown, ymd(today), ymd(today))
        status, body = error_of(excinfo)
        assert (status, body) == (404, {"message": "Not found"})
        conforms(kind, unknown, 404, body)
    api.delete_rich_menu(menu)
    with pytest.raises(ApiException) as excinfo:
        insight.get_rich_menu_insight_daily(menu, ymd(today), ymd(today))
    assert excinfo.value.status == 404

    # Without a valid channel access token: 401.
    assert raw(emulator, f"{BASE}/{unknown}/summary?from=20260101&to=20260101", "nope").status_code == 401


def test_the_insight_rate_limit_covers_rich_menu_insight(
    insight: Insight,
    api: MessagingApi,
    blob_api: MessagingApiBlob,
    emulator: RunningEmulator,
    emu: EmulatorControl,
) -> None:
    menu = default_menu(api, blob_api)
    today = day(emulator)
    before = emu.settings()
    emu.settings(rate_limits_enabled=True, rate_limits={"insight": {"count": 3, "seconds": 60}})
    try:
        insight.get_rich_menu_insight_summary(menu, today, today)
        insight.get_rich_menu_insight_daily(menu, today, today)
        insight.get_number_of_followers()  # one window for every insight endpoint
        with pytest.raises(ApiException) as excinfo:
            insight.get_rich_menu_insight_summary(menu, today, today)
        assert excinfo.value.status == 429
    finally:
        emu.settings(
            rate_limits_enabled=before["rate_limits_enabled"],
            rate_limits={"insight": before["rate_limits"]["insight"]},
        )


def test_answers_match_lines_schemas(
    insight: Insight,
    api: MessagingApi,
    blob_api: MessagingApiBlob,
    emulator: RunningEmulator,
    emu: EmulatorControl,
    threshold: None,
) -> None:
    """Every shape of answer (full, below the threshold, nothing covered) against insight.yml."""
    openapi.require_specs()
    emu.settings(richmenu_insight_threshold=1)
    menu = default_menu(api, blob_api)
    (user,) = emu.create_followers(1)
    emu.tap(user, area=1)
    emu.advance_clock(DAY)
    start, end = day(emulator, -1), day(emulator)
    for kind, path in (("summary", "summary"), ("daily", "daily")):
        for first in (start, end):
            response = raw(emulator, f"{BASE}/{menu}/{path}?from={first}&to={end}")
            assert response.status_code == 200
            assert (
                openapi.response_errors("insight.yml", "GET", f"{BASE}/{menu}/{kind}", 200, response.json())
                == []
            )
    # The checker can fail: a wrong shape is reported.
    wrong = {"richMenuId": menu, "impression": {"metrics": {"count": "many"}}}
    assert openapi.response_errors("insight.yml", "GET", f"{BASE}/{menu}/summary", 200, wrong) != []
