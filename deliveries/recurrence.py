"""Recurring delivery schedules (定期配信): which local dates and times a recurring delivery sends.

A rule is stored as JSON in a JSONField (``Recurrence.to_dict()``)::

    {"frequency": "weekly", "at": "07:00", "start": "2027-01-01", "end": "2027-12-31",
     "weekdays": [1, 4], "day": null, "nth": null, "nth_weekday": null, "skip_holidays": true}

Frequencies:

- ``daily``: every day.
- ``weekly``: on each of ``weekdays`` (0 = Monday … 6 = Sunday, at least one).
- ``monthly_date``: on day ``day`` (1–31) of each month. A month that lacks the day (31 in April,
  29–31 in February) has **no** occurrence that month; it is not moved to the month end (use
  ``month_end`` for that).
- ``monthly_nth``: on the ``nth`` (1–5, or -1 for the last) ``nth_weekday`` of each month, e.g.
  第2水曜日 or 最終金曜日. With ``nth`` 5 the months without a fifth such weekday have none.
- ``month_end``: on the last day of each month (Jan 31, Feb 28 or 29, Apr 30, …).

Times are local wall-clock times in ``settings.TIME_ZONE`` (Asia/Tokyo, which has no DST);
``start`` and ``end`` are both inclusive local dates.

``skip_holidays``: an occurrence on a Japanese public holiday (国民の祝日, including 振替休日 and
国民の休日, as the ``holidays`` package has them) is skipped, not moved to another day. 年末年始
(Dec 29 – Jan 3) is not a public holiday (only Jan 1 元日 is) and is **not** skipped. Note that the
equinox days (春分の日, 秋分の日) are only fixed officially in February of the previous year; the
``holidays`` package computes them astronomically beyond that.

Occurrences are computed with ``dateutil.rrule`` from the day (or month) of ``after`` rather than
from ``start``, so asking for the next occurrence costs the same in the first and the tenth year.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time
from functools import lru_cache
from typing import Any

import holidays
from dateutil import rrule
from django.utils import timezone

FREQUENCIES = ("daily", "weekly", "monthly_date", "monthly_nth", "month_end")
WEEKDAY_NAMES = ("月", "火", "水", "木", "金", "土", "日")
# A guard only: Japanese holidays never come close to this many skipped occurrences in a row.
MAX_CONSECUTIVE_SKIPS = 100
_TIME = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")


class RecurrenceError(ValueError):
    """A recurrence definition that cannot be used; the message is Japanese, for staff."""


def _in_range(value: object, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


@dataclass(frozen=True)
class Recurrence:
    frequency: str
    at: time
    start: date
    end: date | None = None
    weekdays: tuple[int, ...] = ()
    day: int | None = None
    nth: int | None = None
    nth_weekday: int | None = None
    skip_holidays: bool = False

    def __post_init__(self) -> None:
        if self.frequency not in FREQUENCIES:
            raise RecurrenceError(f"繰り返しの種類「{self.frequency}」は使えません。")
        if (
            not isinstance(self.at, time)
            or self.at.tzinfo is not None
            or self.at.second
            or self.at.microsecond
        ):
            raise RecurrenceError("配信時刻は「7:00」のように時と分で指定してください。")
        if isinstance(self.start, datetime) or not isinstance(self.start, date):
            raise RecurrenceError("開始日を入力してください。")
        if self.end is not None and (isinstance(self.end, datetime) or not isinstance(self.end, date)):
            raise RecurrenceError("終了日の日付が正しくありません。")
        if self.end is not None and self.end < self.start:
            raise RecurrenceError("終了日は開始日より後にしてください。")
        if self.frequency == "weekly":
            if not self.weekdays:
                raise RecurrenceError("曜日を1つ以上選んでください。")
            if not all(_in_range(d, 0, 6) for d in self.weekdays):
                raise RecurrenceError("曜日は0（月曜日）〜6（日曜日）で指定してください。")
        if self.frequency == "monthly_date" and not _in_range(self.day, 1, 31):
            raise RecurrenceError("日付は1〜31で指定してください。")
        if self.frequency == "monthly_nth":
            if not (_in_range(self.nth, 1, 5) or _in_range(self.nth, -1, -1)):
                raise RecurrenceError("第何週かは1〜5または最終（-1）で指定してください。")
            if not _in_range(self.nth_weekday, 0, 6):
                raise RecurrenceError("曜日は0（月曜日）〜6（日曜日）で指定してください。")
        if not isinstance(self.skip_holidays, bool):
            raise RecurrenceError("祝日の扱いは「送る」か「送らない」で指定してください。")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Recurrence:
        """Parse and validate a stored or submitted definition; irrelevant fields are dropped."""
        if not isinstance(data, dict):
            raise RecurrenceError("繰り返しの設定が正しくありません。")
        frequency = data.get("frequency")
        if not frequency:
            raise RecurrenceError("繰り返しの種類を選んでください。")
        if frequency not in FREQUENCIES:
            raise RecurrenceError(f"繰り返しの種類「{frequency}」は使えません。")
        start = _parse_date(data.get("start"), "開始日")
        if start is None:
            raise RecurrenceError("開始日を入力してください。")
        weekdays = data.get("weekdays") or []
        if frequency == "weekly" and not (isinstance(weekdays, list | tuple) and weekdays):
            raise RecurrenceError("曜日を1つ以上選んでください。")
        if frequency == "weekly" and not all(_in_range(d, 0, 6) for d in weekdays):
            raise RecurrenceError("曜日は0（月曜日）〜6（日曜日）で指定してください。")
        skip = data.get("skip_holidays")
        return cls(
            frequency=frequency,
            at=_parse_time(data.get("at")),
            start=start,
            end=_parse_date(data.get("end"), "終了日"),
            weekdays=tuple(sorted(set(weekdays))) if frequency == "weekly" else (),
            day=data.get("day") if frequency == "monthly_date" else None,
            nth=data.get("nth") if frequency == "monthly_nth" else None,
            nth_weekday=data.get("nth_weekday") if frequency == "monthly_nth" else None,
            skip_holidays=False if skip is None else skip,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "frequency": self.frequency,
            "at": self.at.strftime("%H:%M"),
            "start": self.start.isoformat(),
            "end": self.end.isoformat() if self.end else None,
            "weekdays": list(self.weekdays),
            "day": self.day,
            "nth": self.nth,
            "nth_weekday": self.nth_weekday,
            "skip_holidays": self.skip_holidays,
        }


def validate(data: dict[str, Any]) -> Recurrence:
    """The rule of a definition, or ``RecurrenceError`` with a Japanese message for staff."""
    return Recurrence.from_dict(data)


def _parse_time(value: object) -> time:
    if value is None or value == "":
        raise RecurrenceError("配信時刻を入力してください。")
    match = _TIME.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise RecurrenceError("配信時刻は「07:00」のように「時:分」で入力してください。")
    return time(int(match[1]), int(match[2]))


def _parse_date(value: object, label: str) -> date | None:
    if value is None or value == "":
        return None
    try:
        if not isinstance(value, str):
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise RecurrenceError(f"{label}の日付が正しくありません。") from None


@lru_cache(maxsize=256)
def _holidays(year: int) -> dict[date, str]:
    return dict(holidays.Japan(years=year, language="ja").items())


def holiday_name(day: date) -> str | None:
    """The Japanese name of the public holiday on ``day`` (e.g. 「振替休日」), or None."""
    return _holidays(day.year).get(day)


def _rrule(rule: Recurrence, begin: date) -> Any:
    """The rule's local wall-clock occurrences from ``begin`` on (naive datetimes).

    Every ``by…`` part is explicit so that the set does not depend on ``dtstart`` (rrule takes
    missing parts from it); ``dtstart`` can then be moved forward to the day being asked about.
    """
    if rule.frequency in ("monthly_date", "monthly_nth", "month_end"):
        begin = begin.replace(day=1)
    options: dict[str, Any] = {
        "dtstart": datetime.combine(max(begin, rule.start), time.min),
        "until": datetime.combine(rule.end, rule.at) if rule.end else None,
        "byhour": rule.at.hour,
        "byminute": rule.at.minute,
        "bysecond": 0,
    }
    if rule.frequency == "daily":
        return rrule.rrule(rrule.DAILY, **options)
    if rule.frequency == "weekly":
        return rrule.rrule(rrule.WEEKLY, byweekday=rule.weekdays, **options)
    if rule.frequency == "monthly_date":
        return rrule.rrule(rrule.MONTHLY, bymonthday=rule.day, **options)
    if rule.frequency == "monthly_nth":
        return rrule.rrule(rrule.MONTHLY, byweekday=rrule.weekday(rule.nth_weekday, rule.nth), **options)
    return rrule.rrule(rrule.MONTHLY, bymonthday=-1, **options)


def occurrences(
    rule: Recurrence, *, after: datetime, until: datetime | None = None, limit: int = 1000
) -> list[datetime]:
    """Aware local datetimes of ``rule`` strictly after ``after``, up to and including ``until``,
    at most ``limit`` of them, within start/end and without holidays if the rule skips them."""
    if timezone.is_naive(after) or (until is not None and timezone.is_naive(until)):
        raise ValueError("occurrences() needs aware datetimes")
    tz = timezone.get_default_timezone()
    local_after = after.astimezone(tz).replace(tzinfo=None)
    local_until = until.astimezone(tz).replace(tzinfo=None) if until is not None else None
    found: list[datetime] = []
    skipped = 0
    for moment in _rrule(rule, local_after.date()):
        if limit <= 0 or (local_until is not None and moment > local_until):
            break
        if moment <= local_after:
            continue
        if rule.skip_holidays and holiday_name(moment.date()) is not None:
            skipped += 1
            if skipped > MAX_CONSECUTIVE_SKIPS:
                break
            continue
        skipped = 0
        found.append(moment.replace(tzinfo=tz))
        if len(found) >= limit:
            break
    return found


def next_occurrence(rule: Recurrence, *, after: datetime) -> datetime | None:
    """The first occurrence strictly after ``after``, or None when the rule has ended."""
    found = occurrences(rule, after=after, limit=1)
    return found[0] if found else None


def _japanese_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def describe(rule: Recurrence) -> str:
    """A Japanese summary for staff, e.g. 「毎週 火・金曜日 7:00（祝日は送らない）、2027年1月5日から…」."""
    if rule.frequency == "daily":
        when = "毎日"
    elif rule.frequency == "weekly":
        when = "毎週 " + "・".join(WEEKDAY_NAMES[d] for d in sorted(rule.weekdays)) + "曜日"
    elif rule.frequency == "monthly_date":
        when = f"毎月 {rule.day}日"
    elif rule.frequency == "monthly_nth":
        nth = "最終" if rule.nth == -1 else f"第{rule.nth}"
        when = f"毎月 {nth}{WEEKDAY_NAMES[rule.nth_weekday or 0]}曜日"
    else:
        when = "毎月 末日"
    text = f"{when} {rule.at.hour}:{rule.at.minute:02d}"
    if rule.skip_holidays:
        text += "（祝日は送らない）"
    text += f"、{_japanese_date(rule.start)}から"
    return text + (f"{_japanese_date(rule.end)}まで" if rule.end else "（終了日なし）")
