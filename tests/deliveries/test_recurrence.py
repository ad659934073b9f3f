"""Recurring delivery schedules: the dates of each frequency against dates enumerated
independently with ``calendar``, Japanese public holidays skipped against a hand-written 2027
calendar (内閣府「国民の祝日」), local times in Asia/Tokyo, validation messages, summaries."""

from __future__ import annotations

import calendar
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from deliveries import recurrence
from deliveries.recurrence import (
    Recurrence,
    RecurrenceError,
    describe,
    holiday_name,
    next_occurrence,
    occurrences,
    validate,
)

JST = ZoneInfo("Asia/Tokyo")
TUE, WED, FRI = 1, 2, 4

# 2027 national holidays, written by hand from the Cabinet Office calendar.
HOLIDAYS_2027 = {
    date(2027, 1, 1): "元日",  # Fri
    date(2027, 1, 11): "成人の日",  # Mon
    date(2027, 2, 11): "建国記念の日",  # Thu
    date(2027, 2, 23): "天皇誕生日",  # Tue
    date(2027, 3, 21): "春分の日",  # Sun
    date(2027, 3, 22): "振替休日",  # Mon
    date(2027, 4, 29): "昭和の日",  # Thu
    date(2027, 5, 3): "憲法記念日",  # Mon
    date(2027, 5, 4): "みどりの日",  # Tue
    date(2027, 5, 5): "こどもの日",  # Wed
    date(2027, 7, 19): "海の日",  # Mon
    date(2027, 8, 11): "山の日",  # Wed
    date(2027, 9, 20): "敬老の日",  # Mon
    date(2027, 9, 23): "秋分の日",  # Thu
    date(2027, 10, 11): "スポーツの日",  # Mon
    date(2027, 11, 3): "文化の日",  # Wed
    date(2027, 11, 23): "勤労感謝の日",  # Tue
}


def jst(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=JST)


def rule(**fields: Any) -> Recurrence:
    data: dict[str, Any] = {"at": "07:00", "start": "2027-01-01", **fields}
    return Recurrence.from_dict(data)


def days_of(year: int) -> Iterator[date]:
    for month in range(1, 13):
        for day in range(1, calendar.monthrange(year, month)[1] + 1):
            yield date(year, month, day)


TUE_FRI: dict[str, Any] = {
    "frequency": "weekly",
    "weekdays": [TUE, FRI],
    "end": "2027-12-31",
    "skip_holidays": True,
}


def test_the_holidays_package_agrees_with_the_hand_written_2027_calendar() -> None:
    found = {day: holiday_name(day) for day in days_of(2027) if holiday_name(day) is not None}
    assert found == HOLIDAYS_2027


def test_tuesdays_and_fridays_of_2027_skip_exactly_the_holidays_on_those_days() -> None:
    every = rule(**TUE_FRI)
    got = occurrences(every, after=jst(2026, 12, 31, 23, 59))

    tue_fri = [day for day in days_of(2027) if day.weekday() in (TUE, FRI)]
    holidays_on_them = [day for day in HOLIDAYS_2027 if day.weekday() in (TUE, FRI)]
    assert holidays_on_them == [date(2027, 1, 1), date(2027, 2, 23), date(2027, 5, 4), date(2027, 11, 23)]
    assert len(tue_fri) == 105  # 2027 starts on a Friday: 53 Fridays, 52 Tuesdays
    assert [moment.date() for moment in got] == [day for day in tue_fri if day not in holidays_on_them]
    assert sorted(set(tue_fri) - {moment.date() for moment in got}) == holidays_on_them
    assert len(got) == 101
    assert got[0] == jst(2027, 1, 5, 7)  # Friday Jan 1 is 元日
    assert got[-1] == jst(2027, 12, 31, 7)  # a Friday; the end date is inclusive
    assert all(moment.time() == time(7, 0) and moment.utcoffset() == timedelta(hours=9) for moment in got)
    # Month ends: Friday Apr 30 is sent, Tuesday May 4 (みどりの日) is not, Friday May 7 is.
    index = got.index(jst(2027, 4, 30, 7))
    assert got[index - 1 : index + 2] == [jst(2027, 4, 27, 7), jst(2027, 4, 30, 7), jst(2027, 5, 7, 7)]
    assert {moment.month for moment in got} == set(range(1, 13))
    # Without skipping, every Tuesday and Friday is sent.
    assert len(occurrences(rule(**{**TUE_FRI, "skip_holidays": False}), after=jst(2026, 12, 31))) == 105


def test_next_occurrence_walks_the_same_dates_one_at_a_time() -> None:
    every = rule(**TUE_FRI)
    walked: list[datetime] = []
    moment = next_occurrence(every, after=jst(2026, 1, 1))
    while moment is not None and len(walked) <= 200:  # bounded: a rule returning ``after`` again fails
        walked.append(moment)
        moment = next_occurrence(every, after=moment)
    assert walked == occurrences(every, after=jst(2026, 1, 1))
    assert next_occurrence(every, after=jst(2027, 12, 31, 7)) is None


def test_second_wednesday_of_each_month() -> None:
    got = occurrences(
        rule(frequency="monthly_nth", nth=2, nth_weekday=WED, at="10:00"), after=jst(2027, 1, 1)
    )
    in_2027 = [moment for moment in got if moment.year == 2027]
    assert len(in_2027) == 12
    assert [moment.month for moment in in_2027] == list(range(1, 13))
    assert all(8 <= m.day <= 14 and m.weekday() == WED and m.time() == time(10) for m in in_2027)
    assert in_2027[0] == jst(2027, 1, 13, 10)
    assert in_2027[-1] == jst(2027, 12, 8, 10)


def test_last_friday_of_each_month() -> None:
    got = occurrences(
        rule(frequency="monthly_nth", nth=-1, nth_weekday=FRI),
        after=jst(2027, 1, 1),
        until=jst(2027, 12, 31, 23, 59),
    )
    expected = [
        max(day for day in days_of(2027) if day.month == month and day.weekday() == FRI)
        for month in range(1, 13)
    ]
    assert [moment.date() for moment in got] == expected
    assert expected[:4] == [date(2027, 1, 29), date(2027, 2, 26), date(2027, 3, 26), date(2027, 4, 30)]
    assert expected[-1] == date(2027, 12, 31)


def test_fifth_weekday_only_in_months_that_have_one() -> None:
    got = occurrences(
        rule(frequency="monthly_nth", nth=5, nth_weekday=FRI), after=jst(2027, 1, 1), until=jst(2028, 1, 1)
    )
    assert [m.date() for m in got] == [
        date(2027, 1, 29),
        date(2027, 4, 30),
        date(2027, 7, 30),
        date(2027, 10, 29),
        date(2027, 12, 31),
    ]
    assert [m.date() for m in got if m.day < 29] == []


def test_month_end_including_leap_february() -> None:
    got = occurrences(
        rule(frequency="month_end", at="09:00"), after=jst(2027, 1, 1), until=jst(2028, 12, 31, 23, 59)
    )
    expected = [
        date(year, month, calendar.monthrange(year, month)[1])
        for year in (2027, 2028)
        for month in range(1, 13)
    ]
    assert [moment.date() for moment in got] == expected
    assert date(2027, 2, 28) in expected and date(2028, 2, 29) in expected and date(2027, 4, 30) in expected
    assert all(moment.time() == time(9) for moment in got)


def test_monthly_on_the_31st_has_no_occurrence_in_shorter_months() -> None:
    got = occurrences(
        rule(frequency="monthly_date", day=31), after=jst(2027, 1, 1), until=jst(2027, 12, 31, 23)
    )
    assert [moment.date() for moment in got] == [
        date(2027, 1, 31),
        date(2027, 3, 31),
        date(2027, 5, 31),
        date(2027, 7, 31),
        date(2027, 8, 31),
        date(2027, 10, 31),
        date(2027, 12, 31),
    ]
    on_29th = occurrences(
        rule(frequency="monthly_date", day=29), after=jst(2027, 1, 1), until=jst(2028, 3, 1)
    )
    assert date(2027, 2, 28) not in [m.date() for m in on_29th]
    assert [m.date() for m in on_29th if m.month == 2] == [date(2028, 2, 29)]
    assert len(on_29th) == 13  # the 11 months of 2027 other than February, then Jan and Feb 2028


def test_daily_with_an_inclusive_end_date() -> None:
    daily = rule(frequency="daily", at="08:30", start="2027-03-01", end="2027-03-10")
    got = occurrences(daily, after=jst(2027, 1, 1))
    assert got == [jst(2027, 3, day, 8, 30) for day in range(1, 11)]
    assert occurrences(daily, after=jst(2027, 3, 10, 8, 29)) == [jst(2027, 3, 10, 8, 30)]
    assert occurrences(daily, after=jst(2027, 3, 10, 8, 30)) == []
    # ``until`` is inclusive too, and ``limit`` caps the list.
    assert occurrences(daily, after=jst(2027, 1, 1), until=jst(2027, 3, 3, 8, 30)) == got[:3]
    assert occurrences(daily, after=jst(2027, 1, 1), limit=4) == got[:4]


def test_a_start_date_in_the_future() -> None:
    weekly = rule(frequency="weekly", weekdays=[TUE], start="2027-06-01")
    assert next_occurrence(weekly, after=jst(2027, 1, 1)) == jst(2027, 6, 1, 7)  # a Tuesday
    monthly = rule(frequency="monthly_date", day=15, start="2027-06-16")
    assert next_occurrence(monthly, after=jst(2027, 1, 1)) == jst(2027, 7, 15, 7)


def test_after_in_the_middle_of_a_day() -> None:
    daily = rule(frequency="daily", at="12:00")
    assert next_occurrence(daily, after=jst(2027, 3, 5, 11, 59)) == jst(2027, 3, 5, 12)
    assert next_occurrence(daily, after=jst(2027, 3, 5, 12, 0)) == jst(2027, 3, 6, 12)  # strictly after
    assert next_occurrence(daily, after=jst(2027, 3, 5, 12, 1)) == jst(2027, 3, 6, 12)
    # The same instants given in UTC: 02:59 UTC is 11:59 in Tokyo.
    assert next_occurrence(daily, after=datetime(2027, 3, 5, 2, 59, tzinfo=UTC)) == jst(2027, 3, 5, 12)
    assert next_occurrence(daily, after=datetime(2027, 3, 5, 3, 0, tzinfo=UTC)) == jst(2027, 3, 6, 12)
    # 20:00 UTC on Monday is 05:00 on Tuesday in Tokyo: that Tuesday's 07:00 is next.
    weekly = rule(frequency="weekly", weekdays=[TUE])
    assert next_occurrence(weekly, after=datetime(2027, 3, 1, 20, 0, tzinfo=UTC)) == jst(2027, 3, 2, 7)
    monthly = rule(frequency="monthly_nth", nth=2, nth_weekday=WED)
    assert next_occurrence(monthly, after=jst(2027, 1, 13, 6)) == jst(2027, 1, 13, 7)
    assert next_occurrence(monthly, after=jst(2027, 1, 13, 8)) == jst(2027, 2, 10, 7)


def test_occurrences_are_in_asia_tokyo() -> None:
    moment = next_occurrence(rule(frequency="daily"), after=datetime(2027, 7, 1, tzinfo=UTC))
    assert moment is not None
    assert moment.tzinfo is not None and str(moment.tzinfo) == "Asia/Tokyo"
    assert moment.utcoffset() == timedelta(hours=9)  # no DST in Japan, summer or winter
    assert moment.astimezone(UTC) == datetime(2027, 7, 1, 22, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="aware"):
        occurrences(rule(frequency="daily"), after=datetime(2027, 1, 1))  # naive


def test_consecutive_holidays_are_all_skipped_and_the_year_end_is_not() -> None:
    daily = rule(frequency="daily", start="2026-01-01", skip_holidays=True)
    # Golden Week 2027: May 3, 4, 5; the Silver Week of 2026: 敬老の日, 国民の休日, 秋分の日.
    assert next_occurrence(daily, after=jst(2027, 5, 2, 8)) == jst(2027, 5, 6, 7)
    assert next_occurrence(daily, after=jst(2026, 9, 20, 8)) == jst(2026, 9, 24, 7)
    # 年末年始 (Dec 29 – Jan 3) is not a public holiday: only 元日 is skipped.
    year_end = occurrences(daily, after=jst(2027, 12, 28, 8), until=jst(2028, 1, 4, 8))
    assert [m.date() for m in year_end] == [
        date(2027, 12, 29),
        date(2027, 12, 30),
        date(2027, 12, 31),
        date(2028, 1, 2),
        date(2028, 1, 3),
        date(2028, 1, 4),
    ]
    # A Monday rule skips the substitute holiday 振替休日 of 春分の日.
    mondays = rule(frequency="weekly", weekdays=[0], skip_holidays=True)
    assert next_occurrence(mondays, after=jst(2027, 3, 16)) == jst(2027, 3, 29, 7)


def test_holiday_name() -> None:
    assert holiday_name(date(2027, 3, 22)) == "振替休日"
    assert holiday_name(date(2026, 9, 22)) == "国民の休日"
    assert holiday_name(date(2027, 9, 23)) == "秋分の日"
    assert holiday_name(date(2027, 12, 30)) is None
    assert holiday_name(date(2028, 1, 2)) is None


def test_the_next_occurrence_does_not_walk_from_the_start_date(monkeypatch: pytest.MonkeyPatch) -> None:
    consumed = 0
    build = recurrence._rrule

    def counting(rule: Recurrence, begin: date) -> Iterator[datetime]:
        nonlocal consumed
        for moment in build(rule, begin):
            consumed += 1
            yield moment

    monkeypatch.setattr(recurrence, "_rrule", counting)
    daily = rule(frequency="daily", start="2000-01-01")
    assert next_occurrence(daily, after=jst(2090, 6, 15, 12)) == jst(2090, 6, 16, 7)
    assert consumed <= 2
    consumed = 0
    monthly = rule(frequency="month_end", start="2000-01-01")
    assert next_occurrence(monthly, after=jst(2090, 6, 15, 12)) == jst(2090, 6, 30, 7)
    assert consumed == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"at": "07:00", "start": "2027-01-01"}, "繰り返しの種類を選んでください。"),
        (
            {"frequency": "hourly", "at": "07:00", "start": "2027-01-01"},
            "繰り返しの種類「hourly」は使えません。",
        ),
        ({"frequency": "daily", "start": "2027-01-01"}, "配信時刻を入力してください。"),
        ({"frequency": "daily", "at": "25:00", "start": "2027-01-01"}, "配信時刻は「07:00」のように"),
        ({"frequency": "daily", "at": "7時", "start": "2027-01-01"}, "配信時刻は「07:00」のように"),
        ({"frequency": "daily", "at": 700, "start": "2027-01-01"}, "配信時刻は「07:00」のように"),
        ({"frequency": "daily", "at": "07:00"}, "開始日を入力してください。"),
        ({"frequency": "daily", "at": "07:00", "start": "2027-02-30"}, "開始日の日付が正しくありません。"),
        (
            {"frequency": "daily", "at": "07:00", "start": "2027-01-01", "end": "next year"},
            "終了日の日付が正しくありません。",
        ),
        (
            {"frequency": "daily", "at": "07:00", "start": "2027-01-10", "end": "2027-01-09"},
            "終了日は開始日より後にしてください。",
        ),
        ({"frequency": "weekly", "at": "07:00", "start": "2027-01-01"}, "曜日を1つ以上選んでください。"),
        (
            {"frequency": "weekly", "at": "07:00", "start": "2027-01-01", "weekdays": []},
            "曜日を1つ以上選んでください。",
        ),
        (
            {"frequency": "weekly", "at": "07:00", "start": "2027-01-01", "weekdays": [7]},
            "曜日は0（月曜日）〜6（日曜日）で指定してください。",
        ),
        (
            {"frequency": "weekly", "at": "07:00", "start": "2027-01-01", "weekdays": ["火"]},
            "曜日は0（月曜日）〜6（日曜日）で指定してください。",
        ),
        (
            {"frequency": "monthly_date", "at": "07:00", "start": "2027-01-01"},
            "日付は1〜31で指定してください。",
        ),
        (
            {"frequency": "monthly_date", "at": "07:00", "start": "2027-01-01", "day": 32},
            "日付は1〜31で指定してください。",
        ),
        (
            {"frequency": "monthly_date", "at": "07:00", "start": "2027-01-01", "day": 0},
            "日付は1〜31で指定してください。",
        ),
        (
            {"frequency": "monthly_date", "at": "07:00", "start": "2027-01-01", "day": True},
            "日付は1〜31で指定してください。",
        ),
        (
            {"frequency": "monthly_nth", "at": "07:00", "start": "2027-01-01", "nth": 6, "nth_weekday": 2},
            "第何週かは1〜5または最終（-1）で指定してください。",
        ),
        (
            {"frequency": "monthly_nth", "at": "07:00", "start": "2027-01-01", "nth": 0, "nth_weekday": 2},
            "第何週かは1〜5または最終（-1）で指定してください。",
        ),
        (
            {"frequency": "monthly_nth", "at": "07:00", "start": "2027-01-01", "nth": 2},
            "曜日は0（月曜日）〜6（日曜日）で指定してください。",
        ),
        (
            {"frequency": "daily", "at": "07:00", "start": "2027-01-01", "skip_holidays": "yes"},
            "祝日の扱いは「送る」か「送らない」で指定してください。",
        ),
        (["daily"], "繰り返しの設定が正しくありません。"),
    ],
)
def test_validation_messages(data: Any, message: str) -> None:
    with pytest.raises(RecurrenceError, match=f"^{message}"):
        validate(data)


def test_direct_construction_is_validated_too() -> None:
    with pytest.raises(RecurrenceError, match="曜日を1つ以上選んでください。"):
        Recurrence(frequency="weekly", at=time(7), start=date(2027, 1, 1))
    with pytest.raises(RecurrenceError, match="配信時刻"):
        Recurrence(frequency="daily", at=time(7, 0, 30), start=date(2027, 1, 1))
    assert RecurrenceError.__mro__[1] is ValueError


@pytest.mark.parametrize(
    ("data", "summary"),
    [
        (
            TUE_FRI | {"start": "2027-01-05"},
            "毎週 火・金曜日 7:00（祝日は送らない）、2027年1月5日から2027年12月31日まで",
        ),
        ({"frequency": "monthly_nth", "nth": 2, "nth_weekday": WED, "at": "10:00"}, "毎月 第2水曜日 10:00"),
        ({"frequency": "monthly_nth", "nth": -1, "nth_weekday": FRI, "at": "18:05"}, "毎月 最終金曜日 18:05"),
        ({"frequency": "month_end", "at": "09:00"}, "毎月 末日 9:00"),
        ({"frequency": "daily", "at": "08:30"}, "毎日 8:30"),
        ({"frequency": "monthly_date", "day": 15, "at": "12:00"}, "毎月 15日 12:00"),
        ({"frequency": "weekly", "weekdays": [6, 0, 6], "at": "00:00"}, "毎週 月・日曜日 0:00"),
    ],
)
def test_describe(data: dict[str, Any], summary: str) -> None:
    text = describe(rule(**data))
    assert text.startswith(summary)
    if "end" not in data:
        assert text == summary + "、2027年1月1日から（終了日なし）"
    else:
        assert text == summary


def test_round_trip_through_json() -> None:
    cases: list[dict[str, Any]] = [
        TUE_FRI,
        {"frequency": "daily", "at": "8:30", "end": "2027-01-01"},
        {"frequency": "monthly_date", "day": 31},
        {"frequency": "monthly_nth", "nth": -1, "nth_weekday": FRI, "skip_holidays": True},
        {"frequency": "month_end", "at": "23:59"},
    ]
    for data in cases:
        original = rule(**data)
        stored = json.loads(json.dumps(original.to_dict()))
        assert Recurrence.from_dict(stored) == original
        assert stored["at"] == original.at.strftime("%H:%M") and stored["start"] == "2027-01-01"
    assert rule(**TUE_FRI).to_dict() == {
        "frequency": "weekly",
        "at": "07:00",
        "start": "2027-01-01",
        "end": "2027-12-31",
        "weekdays": [1, 4],
        "day": None,
        "nth": None,
        "nth_weekday": None,
        "skip_holidays": True,
    }


def test_fields_of_other_frequencies_are_dropped_and_weekdays_normalised() -> None:
    daily = rule(frequency="daily", weekdays=[1], day=5, nth=2, nth_weekday=3)
    assert (daily.weekdays, daily.day, daily.nth, daily.nth_weekday) == ((), None, None, None)
    assert rule(frequency="weekly", weekdays=[4, 1, 4]).weekdays == (1, 4)
