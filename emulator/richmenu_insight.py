"""Rich menu insight (insight.yml): impressions and clicks of a rich menu created with the
Messaging API, over a period (``GET /v2/bot/insight/richmenu/{richMenuId}/summary``) or per day
(``.../daily``).

What is counted, and when:

- A **click** is a virtual user's tap on an area of the menu they see (``emulator.events.tap``),
  kept as a ``RichMenuTap`` with the area's index and bounds. A tap outside every area is no click.
- An **impression** is the menu being shown to a user. The phone simulator shows the menu with the
  talk timeline (``emulator.simulator``), which it polls; so a showing counts once, when the menu
  differs from the last one counted for that user or when the last one was counted on an earlier
  day (Japan time). A tap counts as a showing too (a user who taps has seen the menu).

The answers follow LINE's documentation: dates are ``yyyyMMdd`` in UTC+9, ``to`` is inclusive and
at most 396 (summary) or 99 (daily) days after ``from``, ``from`` lies within the last 3 years.
Numbers exist only for days that have ended, as in LINE's other insight endpoints, and not before
the menu was created: ``metricsFrom``/``metricsTo`` give the period actually covered (``null``
when no day of the request is covered). When fewer users than
``config.richmenu_insight_threshold`` (LINE: 20) clicked the menu in that period, only
``richMenuId`` is returned. Daily lists leave out days without events, as LINE's example does.
Unique users are exact here (LINE calls its own numbers approximate).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from starlette.routing import BaseRoute, Route

from emulator.endpoints import Call, line_endpoint
from emulator.errors import Detail, invalid_request
from emulator.messaging_common import day_bounds, jst, parse_day, today
from emulator.richmenu_common import menu_or_404
from emulator.state import Channel, RichMenu, RichMenuImpression, RichMenuTap, Store

SUMMARY_MAX_DAYS = 396  # ``to`` at most this many days after ``from``
DAILY_MAX_DAYS = 99
HISTORY_YEARS = 3  # ``from`` within the most recent 3 years


# --- recording -------------------------------------------------------------------------------


def record_impression(store: Store, channel: Channel, user_id: str, rich_menu_id: str) -> bool:
    """Count the menu as shown to the user, unless it is the last one counted for them today."""
    now = store.now()
    index = channel.rich_menu_seen.get(user_id)
    if index is not None and 0 <= index < len(channel.rich_menu_impressions):
        last = channel.rich_menu_impressions[index]
        if last.rich_menu_id == rich_menu_id and jst(last.at).date() == jst(now).date():
            return False
    channel.rich_menu_seen[user_id] = len(channel.rich_menu_impressions)
    channel.rich_menu_impressions.append(
        RichMenuImpression(rich_menu_id=rich_menu_id, user_id=user_id, at=now)
    )
    return True


def record_tap(store: Store, channel: Channel, user_id: str, rich_menu_id: str, area: int) -> RichMenuTap:
    """A click on area ``area`` of the menu (which must exist and have that area)."""
    bounds = channel.rich_menus[rich_menu_id].body["areas"][area]["bounds"]
    tap = RichMenuTap(
        rich_menu_id=rich_menu_id,
        area=area,
        bounds={key: int(bounds[key]) for key in ("x", "y", "width", "height")},
        user_id=user_id,
        at=store.now(),
    )
    channel.rich_menu_taps.append(tap)
    return tap


# --- the period --------------------------------------------------------------------------------


@dataclass
class Period:
    """What a request asks for and the days its numbers cover (None: no day is covered yet)."""

    menu: RichMenu
    covered: tuple[date, date] | None

    @property
    def bounds(self) -> tuple[float, float]:
        """The covered days as [start, end) timestamps (empty when nothing is covered)."""
        if self.covered is None:
            return 0.0, 0.0
        return day_bounds(self.covered[0])[0], day_bounds(self.covered[1])[1]


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _period(call: Call, max_days: int) -> Period:
    """The checked ``from``/``to`` (LINE's 400s), the menu (404) and the days actually covered."""
    start = parse_day(call.query("from"), "from")
    end = parse_day(call.query("to"), "to")
    if end < start:
        raise invalid_request([Detail("Must be the same as or later than from", "to")])
    if (end - start).days > max_days:
        raise invalid_request([Detail(f"Must be at most {max_days} days after from", "to")])
    now = today(call.store)
    if start < _years_before(now, HISTORY_YEARS):
        raise invalid_request([Detail(f"Must be within the last {HISTORY_YEARS} years", "from")])
    menu = menu_or_404(call.channel, call.path("richMenuId"))
    first = max(start, jst(menu.created_at).date())
    last = min(end, now - timedelta(days=1))  # a day is counted once it has ended
    return Period(menu=menu, covered=(first, last) if first <= last else None)


def _areas(menu: RichMenu) -> list[dict[str, int]]:
    return [
        {key: int(area["bounds"][key]) for key in ("x", "y", "width", "height")}
        for area in menu.body.get("areas", [])
    ]


def _events(channel: Channel, period: Period) -> tuple[list[RichMenuImpression], list[RichMenuTap]]:
    """The menu's impressions and clicks within the covered days."""
    start, end = period.bounds
    menu_id = period.menu.rich_menu_id
    impressions = [
        i for i in channel.rich_menu_impressions if i.rich_menu_id == menu_id and start <= i.at < end
    ]
    taps = [t for t in channel.rich_menu_taps if t.rich_menu_id == menu_id and start <= t.at < end]
    return impressions, taps


def _below_threshold(call: Call, taps: list[RichMenuTap]) -> bool:
    """LINE's privacy rule: too few users clicked the menu in the period to show any number."""
    return len({t.user_id for t in taps}) < call.store.config.richmenu_insight_threshold


def _head(period: Period) -> dict[str, Any]:
    covered = period.covered
    return {
        "richMenuId": period.menu.rich_menu_id,
        "metricsFrom": covered[0].strftime("%Y%m%d") if covered else None,
        "metricsTo": covered[1].strftime("%Y%m%d") if covered else None,
    }


def _total(users: list[str]) -> dict[str, int]:
    """``count`` (one per event) and ``uniqueUsers`` of events by these users."""
    return {"count": len(users), "uniqueUsers": len(set(users))}


def _per_day(events: list[tuple[float, str]]) -> list[dict[str, Any]]:
    """Daily metrics of (time, user id) events, oldest day first; days without events left out."""
    days: dict[date, list[str]] = {}
    for at, user_id in events:
        days.setdefault(jst(at).date(), []).append(user_id)
    return [{"date": day.strftime("%Y%m%d"), **_total(users)} for day, users in sorted(days.items())]


# --- endpoints ---------------------------------------------------------------------------------


@line_endpoint("insight")
async def summary(call: Call) -> dict[str, Any]:
    """Impressions of the whole menu and clicks per area, summed over the period."""
    period = _period(call, SUMMARY_MAX_DAYS)
    impressions, taps = _events(call.channel, period)
    if _below_threshold(call, taps):
        return {"richMenuId": period.menu.rich_menu_id}
    return {
        **_head(period),
        "impression": {"metrics": _total([i.user_id for i in impressions])},
        "clicks": [
            {"bounds": bounds, "metrics": _total([t.user_id for t in taps if t.area == index])}
            for index, bounds in enumerate(_areas(period.menu))
        ],
    }


@line_endpoint("insight")
async def daily(call: Call) -> dict[str, Any]:
    """Impressions of the whole menu and clicks per area, day by day."""
    period = _period(call, DAILY_MAX_DAYS)
    impressions, taps = _events(call.channel, period)
    if _below_threshold(call, taps):
        return {"richMenuId": period.menu.rich_menu_id}
    return {
        **_head(period),
        "impression": {"metrics": _per_day([(i.at, i.user_id) for i in impressions])},
        "clicks": [
            {"bounds": bounds, "metrics": _per_day([(t.at, t.user_id) for t in taps if t.area == index])}
            for index, bounds in enumerate(_areas(period.menu))
        ],
    }


api_routes: list[BaseRoute] = [
    Route("/v2/bot/insight/richmenu/{richMenuId}/summary", summary, methods=["GET"]),
    Route("/v2/bot/insight/richmenu/{richMenuId}/daily", daily, methods=["GET"]),
]
