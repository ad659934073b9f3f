"""友だち一覧: the followers of the LINE account, read-only, with counts and the daily series.

A Wagtail report view (filters, pagination, our CSV/XLSX export, help link). Above the
list: 友だち数, ブロック数, 今日の増減, and the friend count per day for the chosen period
as an inline SVG chart (no script: the CSP forbids inline scripts and we need none) with
the same figures in a table. Display names are encrypted, so the list is not searchable
by name; it is filtered by status and period.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import django_filters
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from wagtail.admin.filters import DateRangePickerWidget, WagtailFilterSet
from wagtail.admin.ui.tables import Column, TitleColumn
from wagtail.admin.views.reports.base import ReportView
from wagtail.permission_policies import ModelPermissionPolicy

from kairan.core.export_views import SpreadsheetExportViewMixin
from kairan.manual.help import HelpLinkMixin
from kairan.oplog.services import record_personal_view
from line_channel.followers import DayCount, daily_series, friend_counts, language_name
from line_channel.models import Follower

DEFAULT_PERIOD_DAYS = 30
MAX_SERIES_DAYS = 366 * 3
PROFILE_PENDING = "（プロフィール取得待ち）"


def local_time(value: datetime | None) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, datetime.min.time()))


class FollowerPeriodFilter(django_filters.DateFromToRangeFilter):
    """Followers who added the account, or blocked it, on a day in the period (local days)."""

    def filter(self, qs: QuerySet[Any], value: Any) -> QuerySet[Any]:
        if not value or not (value.start or value.stop):
            return qs
        followed, unfollowed = Q(), Q()
        if value.start:
            followed &= Q(followed_at__gte=_day_start(value.start))
            unfollowed &= Q(unfollowed_at__gte=_day_start(value.start))
        if value.stop:
            end = _day_start(value.stop + timedelta(days=1))
            followed &= Q(followed_at__lt=end)
            unfollowed &= Q(unfollowed_at__lt=end)
        return qs.filter(followed | unfollowed)


class FollowerFilterSet(WagtailFilterSet):
    status = django_filters.ChoiceFilter(label="状態", choices=Follower.Status.choices, empty_label="すべて")
    period = FollowerPeriodFilter(label="期間（開始日・終了日）", widget=DateRangePickerWidget)

    class Meta:
        model = Follower
        fields: list[str] = []


# --- the chart ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChartPoint:
    x: float
    y: float
    label: str


@dataclass(frozen=True)
class ChartBar:
    x: float
    y: float
    width: float
    height: float
    label: str
    kind: str  # "gained" or "lost"


@dataclass(frozen=True)
class Chart:
    """Coordinates of the friend-count line and the daily gained/lost bars, in SVG units."""

    width: int
    height: int
    left: int
    top: int
    plot_width: int
    plot_height: int
    points: list[ChartPoint]
    polyline: str
    bars: list[ChartBar]
    y_max: int
    y_min: int
    bar_top: int
    bar_height: int
    bar_middle: int
    bar_max: int
    summary: str
    first_day: date
    last_day: date
    show_markers: bool


def _day_label(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def build_chart(series: list[DayCount]) -> Chart | None:
    """A line of friends at the end of each day and bars of each day's gains (up) and losses (down)."""
    if not series:
        return None
    width, left, right, top = 760, 64, 16, 16
    plot_width, plot_height = width - left - right, 160
    bar_top, bar_height = top + plot_height + 40, 80
    height = bar_top + bar_height + 24
    counts = [day.friends for day in series]
    y_max, y_min = max(counts), min(counts)
    spread = max(y_max - y_min, 1)
    step = plot_width / max(len(series) - 1, 1)
    points = []
    for index, day in enumerate(series):
        x = left + (index * step if len(series) > 1 else plot_width / 2)
        y = top + plot_height / 2 if y_max == y_min else top + (y_max - day.friends) / spread * plot_height
        points.append(ChartPoint(round(x, 1), round(y, 1), f"{_day_label(day.day)}：{day.friends:,}人"))
    bar_max = max([max(day.gained, day.lost) for day in series] + [1])
    slot = plot_width / len(series)
    bar_width = max(min(slot * 0.35, 12.0), 1.0)
    half = bar_height // 2
    middle = bar_top + half
    bars = []
    for index, day in enumerate(series):
        centre = left + slot * index + slot / 2
        if day.gained:
            h = day.gained / bar_max * half
            label = f"{_day_label(day.day)}：{day.gained:,}人増"
            bars.append(
                ChartBar(round(centre - bar_width, 1), round(middle - h, 1), bar_width, h, label, "gained")
            )
        if day.lost:
            h = day.lost / bar_max * half
            label = f"{_day_label(day.day)}：{day.lost:,}人減"
            bars.append(ChartBar(round(centre, 1), middle, bar_width, h, label, "lost"))
    first, last = series[0], series[-1]
    peak = max(series, key=lambda d: d.friends)
    low = min(series, key=lambda d: d.friends)
    summary = (
        f"{_day_label(first.day)}から{_day_label(last.day)}までの友だち数。"
        f"初日 {first.friends:,}人、最終日 {last.friends:,}人。"
        f"最多 {peak.friends:,}人（{_day_label(peak.day)}）、"
        f"最少 {low.friends:,}人（{_day_label(low.day)}）。"
        f"期間中の増加 {sum(d.gained for d in series):,}人、減少 {sum(d.lost for d in series):,}人。"
    )
    return Chart(
        width=width,
        height=height,
        left=left,
        top=top,
        plot_width=plot_width,
        plot_height=plot_height,
        points=points,
        polyline=" ".join(f"{p.x},{p.y}" for p in points),
        bars=bars,
        y_max=y_max,
        y_min=y_min,
        bar_top=bar_top,
        bar_height=bar_height,
        bar_middle=bar_top + bar_height // 2,
        bar_max=bar_max,
        summary=summary,
        first_day=first.day,
        last_day=last.day,
        show_markers=len(series) <= 62,
    )


# --- the view -------------------------------------------------------------------------------------


def _status_label(follower: Follower) -> str:
    return str(follower.get_status_display())


class FollowersView(HelpLinkMixin, SpreadsheetExportViewMixin, ReportView):
    page_title = "友だち一覧"
    header_icon = "group"
    help_page = "followers"
    index_url_name = "line_channel_followers:index"
    index_results_url_name = "line_channel_followers:results"
    template_name = "line_channel/followers.html"
    results_template_name = "line_channel/followers_results.html"
    filterset_class = FollowerFilterSet
    permission_policy = ModelPermissionPolicy(Follower)
    permission_required = "view"
    paginate_by = 50
    default_ordering = "-followed_at"
    columns = [
        Column("display_name", label="表示名", accessor=lambda f: f.display_name or PROFILE_PENDING),
        Column("status", label="状態", accessor=_status_label, sort_key="status"),
        Column(
            "followed_at",
            label="友だち追加",
            accessor=lambda f: local_time(f.followed_at),
            sort_key="followed_at",
        ),
        Column(
            "unfollowed_at",
            label="ブロック",
            accessor=lambda f: local_time(f.unfollowed_at),
            sort_key="unfollowed_at",
        ),
        Column("language", label="言語", accessor=lambda f: language_name(f.language)),
    ]
    export_name = "友だち一覧"
    export_filename_stem = "followers"
    export_columns = (
        ("表示名", lambda f: f.display_name),
        ("状態", _status_label),
        ("友だち追加", lambda f: local_time(f.followed_at)),
        ("ブロック", lambda f: local_time(f.unfollowed_at)),
        ("最初の友だち追加", lambda f: local_time(f.first_followed_at)),
        ("言語", lambda f: language_name(f.language)),
        ("LINE ユーザーID", lambda f: f.line_user_id),
    )

    def get_table(self, object_list: Any) -> Any:
        """Staff who may see residents' personal data get each display name as a link to the
        resident's page (市民の情報)."""
        table = super().get_table(object_list)
        if self.request.user.has_perm("residents.view_personal_data"):
            name = TitleColumn(
                "display_name",
                label="表示名",
                accessor=lambda f: f.display_name or PROFILE_PENDING,
                get_url=lambda f: (
                    reverse("residents_admin:detail", args=[f.line_user_hash]) if f.line_user_hash else None
                ),
            )
            table.columns = {**table.columns, "display_name": name}
        return table

    def get_queryset(self) -> QuerySet[Follower]:
        return self.order_queryset(Follower.objects.all())

    def series_period(self) -> tuple[date, date]:
        """The filter's period, or the last 30 days; at most three years."""
        today = timezone.localdate()
        start = end = None
        if self.filters is not None and self.filters.is_valid():
            value = self.filters.form.cleaned_data.get("period")
            if value:
                start, end = value.start, value.stop
        end = min(end.date() if isinstance(end, datetime) else end or today, today)
        start = start.date() if isinstance(start, datetime) else start
        if start is None or start > end:
            start = end - timedelta(days=DEFAULT_PERIOD_DAYS - 1)
        start = max(start, end - timedelta(days=MAX_SERIES_DAYS - 1))
        return start, end

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        if self.is_export:
            return context  # the export logs itself
        # Display names are personal data: each list shown is in the operation log.
        record_personal_view(
            request=self.request, label="友だち一覧", data={"page": self.request.GET.get("p", "1")}
        )
        start, end = self.series_period()
        series = daily_series(start=start, end=end)
        context.update(
            counts=friend_counts(),
            series=series,
            series_start=start,
            series_end=end,
            chart=build_chart(series),
        )
        return context
