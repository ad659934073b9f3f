"""Report screens: 操作ログ and アクセスログ (search by period, staff and kind; export)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import django_filters
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from wagtail.admin.filters import DateRangePickerWidget, WagtailFilterSet
from wagtail.admin.ui.tables import Column
from wagtail.admin.views.reports.base import ReportView
from wagtail.admin.widgets.button import HeaderButton
from wagtail.permission_policies import ModelPermissionPolicy

from kairan.core.export_views import SpreadsheetExportViewMixin
from kairan.manual.help import HelpLinkMixin
from kairan.oplog.actions import action_choices, action_label
from kairan.oplog.models import AccessLogEntry, Category, OperationLogChain, OperationLogEntry
from kairan.oplog.services import verify_and_remember


def local_time(value: datetime | None) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S") if value else ""


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


class PeriodFilter(django_filters.DateFromToRangeFilter):
    """開始日–終了日 in local (Japan) days, as an index-friendly timestamp range."""

    def filter(self, qs: QuerySet[Any], value: Any) -> QuerySet[Any]:
        if value and value.start:
            qs = qs.filter(timestamp__gte=_day_start(value.start))
        if value and value.stop:
            qs = qs.filter(timestamp__lt=_day_start(value.stop + timedelta(days=1)))
        return qs


def _staff_choices() -> QuerySet[Any]:
    return get_user_model().objects.order_by("username")


class StaffFilter(django_filters.ModelChoiceFilter):
    def filter(self, qs: QuerySet[Any], value: Any) -> QuerySet[Any]:
        return qs.filter(actor_id=value.pk) if value else qs


class _LogFilterSet(WagtailFilterSet):
    period = PeriodFilter(label="期間（開始日・終了日）", widget=DateRangePickerWidget)
    staff = StaffFilter(label="職員", queryset=lambda request: _staff_choices(), empty_label="すべて")
    keyword = django_filters.CharFilter(label="キーワード", method="filter_keyword")
    keyword_fields: tuple[str, ...] = ()

    def filter_keyword(self, qs: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        condition = Q()
        for field in self.keyword_fields:
            condition |= Q(**{f"{field}__icontains": value})
        return qs.filter(condition)


class OperationLogFilterSet(_LogFilterSet):
    category = django_filters.ChoiceFilter(label="種別", choices=Category.choices, empty_label="すべて")
    action = django_filters.ChoiceFilter(label="操作", choices=action_choices, empty_label="すべて")
    keyword_fields = ("username", "object_label", "object_id", "path", "ip_address")

    class Meta:
        model = OperationLogEntry
        fields: list[str] = []


class AccessLogFilterSet(_LogFilterSet):
    status = django_filters.ChoiceFilter(
        label="ステータス",
        method="filter_status",
        choices=[("ok", "成功（2xx・3xx）"), ("client", "エラー（4xx）"), ("server", "障害（5xx）")],
        empty_label="すべて",
    )
    keyword_fields = ("username", "path", "ip_address")

    def filter_status(self, qs: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        ranges = {"ok": (200, 399), "client": (400, 499), "server": (500, 599)}
        low, high = ranges[value]
        return qs.filter(status__gte=low, status__lte=high)

    class Meta:
        model = AccessLogEntry
        fields: list[str] = []


class OperationLogView(HelpLinkMixin, SpreadsheetExportViewMixin, ReportView):
    page_title = "操作ログ"
    header_icon = "history"
    help_page = "oplog"
    index_url_name = "kairan_oplog:operation_log"
    index_results_url_name = "kairan_oplog:operation_log_results"
    results_template_name = "oplog/operation_log_results.html"
    filterset_class = OperationLogFilterSet
    permission_policy = ModelPermissionPolicy(OperationLogEntry)
    permission_required = "view"
    paginate_by = 50
    columns = [
        Column("timestamp", label="日時", accessor=lambda e: local_time(e.timestamp)),
        Column("username", label="職員", accessor=lambda e: e.username or "（不明）"),
        Column("ip_address", label="IPアドレス"),
        Column("category", label="種別", accessor=lambda e: e.get_category_display()),
        Column("action", label="操作", accessor=lambda e: action_label(e.action)),
        Column("object_label", label="対象"),
        Column("path", label="画面"),
        Column("sequence", label="通し番号"),
    ]
    export_name = "操作ログ"
    export_filename_stem = "operation-log"
    export_columns = (
        ("通し番号", lambda e: e.sequence),
        ("日時", lambda e: local_time(e.timestamp)),
        ("職員", lambda e: e.username),
        ("職員ID", lambda e: e.actor_id),
        ("IPアドレス", lambda e: e.ip_address),
        ("種別", lambda e: e.get_category_display()),
        ("操作", lambda e: action_label(e.action)),
        ("操作コード", lambda e: e.action),
        ("対象の種類", lambda e: e.object_type),
        ("対象ID", lambda e: e.object_id),
        ("対象", lambda e: e.object_label),
        ("画面", lambda e: e.path),
        ("詳細", lambda e: e.data or ""),
        ("ハッシュ", lambda e: e.hash),
    )

    def get_queryset(self) -> QuerySet[OperationLogEntry]:
        return OperationLogEntry.objects.order_by("-sequence")

    def get_header_buttons(self) -> list[Any]:
        buttons = super().get_header_buttons()
        buttons.append(
            HeaderButton(
                label="改ざんチェックを実行",
                url=reverse("kairan_oplog:verify"),
                icon_name="check",
                priority=400,
            )
        )
        return buttons

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["chain"] = OperationLogChain.objects.filter(pk=1).first()
        return context


class AccessLogView(HelpLinkMixin, SpreadsheetExportViewMixin, ReportView):
    page_title = "アクセスログ"
    header_icon = "list-ul"
    help_page = "oplog"
    index_url_name = "kairan_oplog:access_log"
    index_results_url_name = "kairan_oplog:access_log_results"
    filterset_class = AccessLogFilterSet
    permission_policy = ModelPermissionPolicy(AccessLogEntry)
    permission_required = "view"
    paginate_by = 100
    columns = [
        Column("timestamp", label="日時", accessor=lambda e: local_time(e.timestamp)),
        Column("username", label="職員", accessor=lambda e: e.username or "（未ログイン）"),
        Column("ip_address", label="IPアドレス"),
        Column("method", label="メソッド"),
        Column("path", label="パス"),
        Column("status", label="ステータス"),
        Column("duration_ms", label="処理時間（ミリ秒）"),
    ]
    export_name = "アクセスログ"
    export_filename_stem = "access-log"
    export_columns = (
        ("日時", lambda e: local_time(e.timestamp)),
        ("職員", lambda e: e.username),
        ("職員ID", lambda e: e.actor_id),
        ("IPアドレス", lambda e: e.ip_address),
        ("メソッド", lambda e: e.method),
        ("パス", lambda e: e.path),
        ("ステータス", lambda e: e.status),
        ("処理時間（ミリ秒）", lambda e: e.duration_ms),
    )

    def get_queryset(self) -> QuerySet[AccessLogEntry]:
        return AccessLogEntry.objects.order_by("-timestamp", "-pk")


def verify_now(request: HttpRequest) -> HttpResponse:
    """Run the tamper check now and show its result (システム管理者 only)."""
    if not request.user.has_perm("oplog.view_operationlogentry"):
        return HttpResponse(status=403)
    result = verify_and_remember()
    (messages.success if result.ok else messages.error)(request, result.describe())
    return HttpResponseRedirect(reverse("kairan_oplog:operation_log"))
