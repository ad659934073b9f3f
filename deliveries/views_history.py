"""配信履歴: the list (totals by month and department, filters, CSV/XLSX), one run's page
(snapshot preview, segment, counts, progress bar, cancel / stop), and its progress as JSON."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

import django_filters
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django.views.generic import TemplateView
from wagtail.admin.filters import WagtailFilterSet
from wagtail.admin.ui.tables import Column, TitleColumn
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin
from wagtail.admin.views.reports import ReportView
from wagtail.permission_policies import ModelPermissionPolicy

from deliveries import fanout, services
from deliveries.models import Category, DeliveryRun
from kairan.core.export_views import SpreadsheetExportViewMixin
from kairan.manual.help import HelpLinkMixin
from line_channel.models import OutboxItem

TITLE = "配信履歴"
VIEW = "deliveries.view_deliveryrun"
CHANGE = "deliveries.change_delivery"
HOME_CRUMB = WagtailAdminTemplateMixin.breadcrumbs_items[0]


def local_time(value: datetime | None) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


def _number(value: int | None) -> str:
    return "" if value is None else f"{value:,}"


class PeriodFilter(django_filters.DateFromToRangeFilter):
    """Dates are local days, both ends included."""

    def filter(self, qs: QuerySet[Any], value: Any) -> QuerySet[Any]:
        if value and value.start:
            qs = qs.filter(scheduled_for__gte=_day_start(value.start))
        if value and value.stop:
            qs = qs.filter(scheduled_for__lt=_day_start(value.stop) + timedelta(days=1))
        return qs


def _day_start(day: date | datetime) -> datetime:
    day = day.date() if isinstance(day, datetime) else day
    return timezone.make_aware(datetime.combine(day, datetime.min.time()))


class HistoryFilterSet(WagtailFilterSet):
    period = PeriodFilter(label="配信予定日", field_name="scheduled_for")
    kind = django_filters.ChoiceFilter(label="種類", choices=DeliveryRun.Kind.choices)
    state = django_filters.ChoiceFilter(label="状態", choices=DeliveryRun.State.choices)
    category = django_filters.ChoiceFilter(label="分類", choices=Category.choices)
    department = django_filters.CharFilter(label="部署", lookup_expr="icontains")

    class Meta:
        model = DeliveryRun
        fields = ["period", "kind", "state", "category", "department"]


def _blocked(run: DeliveryRun) -> str:
    if run.is_test:
        return ""
    if run.blocked_24h is not None:
        return f"{run.blocked_24h:,}"
    if run.started_at is None:
        return ""
    return f"{fanout.blocked_within_24h(run):,}（集計中）"


EXPORT_COLUMNS: tuple[tuple[str, Any], ...] = (
    ("ID", lambda r: r.pk),
    ("管理用タイトル", lambda r: r.title),
    ("種類", lambda r: r.get_kind_display()),
    ("状態", lambda r: r.get_state_display()),
    ("分類", lambda r: r.get_category_display() if r.category else ""),
    ("配信元の部署", lambda r: r.department),
    ("配信予定日時", lambda r: local_time(r.scheduled_for)),
    ("開始日時", lambda r: local_time(r.started_at)),
    ("終了日時", lambda r: local_time(r.finished_at)),
    ("送る相手", lambda r: r.segment_text or r.get_audience_display()),
    ("配信グループ", lambda r: r.segment_name),
    ("対象人数", lambda r: r.target_count),
    ("送信数", lambda r: r.sent_count),
    ("失敗数", lambda r: r.failed_count),
    ("メッセージ数", lambda r: r.message_count),
    ("24時間以内のブロック", lambda r: r.blocked_24h),
    ("作成者", lambda r: r.author),
    ("承認者", lambda r: r.approver),
    ("取消・停止した職員", lambda r: r.cancelled_by),
)


def totals(runs: QuerySet[DeliveryRun]) -> dict[str, list[dict[str, Any]]]:
    """Sends (tests excluded) per month and per department: deliveries, recipients, failures."""
    months: dict[str, dict[str, int]] = defaultdict(lambda: {"runs": 0, "sent": 0, "failed": 0})
    departments: dict[str, dict[str, int]] = defaultdict(lambda: {"runs": 0, "sent": 0, "failed": 0})
    rows = (
        runs.exclude(kind=DeliveryRun.Kind.TEST)
        .exclude(started_at=None)
        .values_list("scheduled_for", "department", "sent_count", "failed_count")
    )
    for when, department, sent, failed in rows.iterator():
        for bucket in (
            months[timezone.localtime(when).strftime("%Y年%m月")],
            departments[department or "（部署なし）"],
        ):
            bucket["runs"] += 1
            bucket["sent"] += sent
            bucket["failed"] += failed
    return {
        "months": [{"label": k, **v} for k, v in sorted(months.items(), reverse=True)][:12],
        "departments": [{"label": k, **v} for k, v in sorted(departments.items())],
    }


class HistoryView(HelpLinkMixin, SpreadsheetExportViewMixin, ReportView):
    page_title = TITLE
    header_icon = "history"
    help_page = "delivery-history"
    index_url_name = "deliveries_history:index"
    index_results_url_name = "deliveries_history:results"
    template_name = "deliveries/history.html"
    results_template_name = "deliveries/history_results.html"
    filterset_class = HistoryFilterSet
    permission_policy = ModelPermissionPolicy(DeliveryRun)
    permission_required = "view"
    paginate_by = 50
    default_ordering = "-scheduled_for"
    columns = [
        TitleColumn(
            "title",
            label="管理用タイトル",
            get_url=lambda r: reverse("deliveries_history:detail", args=[r.pk]),
        ),
        Column("kind", label="種類", accessor="get_kind_display"),
        Column("state", label="状態", accessor="get_state_display", sort_key="state"),
        Column(
            "scheduled_for",
            label="配信予定日時",
            accessor=lambda r: local_time(r.scheduled_for),
            sort_key="scheduled_for",
        ),
        Column("department", label="部署"),
        Column("target_count", label="対象", accessor=lambda r: _number(r.target_count)),
        Column("sent_count", label="送信", accessor=lambda r: _number(r.sent_count) if r.finished_at else ""),
        Column(
            "failed_count", label="失敗", accessor=lambda r: _number(r.failed_count) if r.finished_at else ""
        ),
        Column("blocked", label="24時間以内のブロック", accessor=_blocked),
    ]
    export_name = TITLE
    export_filename_stem = "delivery-history"
    export_columns = EXPORT_COLUMNS

    def get_queryset(self) -> QuerySet[DeliveryRun]:
        return self.order_queryset(DeliveryRun.objects.all())

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        if not self.is_export:
            context["totals"] = totals(self.filter_queryset(DeliveryRun.objects.all()))
        return context


# --- one run ----------------------------------------------------------------------------------------------


def _run(request: HttpRequest, pk: int) -> DeliveryRun:
    if not request.user.has_perm(VIEW):
        raise PermissionDenied
    return get_object_or_404(DeliveryRun, pk=pk)


class RunDetailView(HelpLinkMixin, WagtailAdminTemplateMixin, TemplateView):
    template_name = "deliveries/run_detail.html"
    header_icon = "history"
    help_page = "delivery-history"
    run: DeliveryRun

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        self.run = _run(request, kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    def get_page_title(self) -> str:
        return f"{TITLE}: {self.run.title}"

    def get_breadcrumbs_items(self) -> list[dict[str, str]]:
        return [
            HOME_CRUMB,
            {"url": reverse("deliveries_history:index"), "label": TITLE},
            {"url": "", "label": self.run.title},
        ]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        from deliveries.line_messages import preview_context

        run = self.run
        context = super().get_context_data(**kwargs)
        context.update(preview_context(run.messages))
        context.update(
            run=run,
            progress=fanout.progress(run),
            blocked=_blocked(run),
            can_change=self.request.user.has_perm(CHANGE),
            testers=_test_outcomes(run) if run.is_test else [],
        )
        return context


def _test_outcomes(run: DeliveryRun) -> list[dict[str, str]]:
    """Who got a test: each tester's push and its outcome."""
    from deliveries.models import Tester

    labels = {t.follower.line_user_id: t.label for t in Tester.objects.select_related("follower")}
    rows = []
    for item in OutboxItem.objects.filter(purpose=run.purpose).order_by("pk"):
        user_id = item.recipients[0] if item.recipients else ""
        rows.append(
            {
                "label": labels.get(user_id, "（テスターから外れた友だち）"),
                "state": str(item.get_state_display()),
                "sent_at": local_time(item.sent_at),
                "error": item.error,
            }
        )
    return rows


@require_GET
def run_progress(request: HttpRequest, pk: int) -> JsonResponse:
    run = _run(request, pk)
    response = JsonResponse(fanout.progress(run))
    response["Cache-Control"] = "no-store"
    return response


def _act(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    if not request.user.has_perm(CHANGE):
        raise PermissionDenied
    run = get_object_or_404(DeliveryRun, pk=pk)
    try:
        if action == "cancel":
            services.cancel_run(run=run, user=request.user)
            messages.success(request, f"「{run.title}」の配信を取り消しました。")
        else:
            services.stop_run(run=run, user=request.user)
            messages.success(
                request, f"「{run.title}」の配信を停止しました。まだ送っていない分は送りません。"
            )
    except services.DeliveryError as error:
        messages.error(request, str(error))
    return HttpResponseRedirect(request.POST.get("next") or reverse("deliveries_history:detail", args=[pk]))


@require_POST
def cancel(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, "cancel")


@require_POST
def stop(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, "stop")


def not_found(request: HttpRequest) -> HttpResponse:
    raise Http404
