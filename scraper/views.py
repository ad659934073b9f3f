"""Admin screens of ホームページ取り込み: 取り込み履歴 (runs), one run's lines, and 「今すぐ取り込む」."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import django_filters
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.views.generic import TemplateView
from wagtail.admin.filters import WagtailFilterSet
from wagtail.admin.ui.tables import Column, TitleColumn
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin
from wagtail.admin.views.reports import ReportView
from wagtail.admin.widgets.button import HeaderButton
from wagtail.permission_policies import ModelPermissionPolicy

from kairan.core.export_views import SpreadsheetExportViewMixin
from kairan.manual.help import HelpLinkMixin
from scraper import services
from scraper.models import Action, ScrapeRun, ScrapeRunLine, ScrapeSource

TITLE = "取り込み履歴"
CHANGE_SOURCE = "scraper.change_scrapesource"
HOME_CRUMB = WagtailAdminTemplateMixin.breadcrumbs_items[0]


def local_time(value: datetime | None) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S") if value else ""


def _run_label(run: ScrapeRun) -> str:
    return local_time(run.started_at or run.created_at)


class RunFilterSet(WagtailFilterSet):
    source = django_filters.ModelChoiceFilter(
        label="取り込み設定", queryset=ScrapeSource.objects.all(), empty_label="すべて"
    )
    status = django_filters.ChoiceFilter(label="状態", choices=ScrapeRun.Status.choices, empty_label="すべて")
    trigger = django_filters.ChoiceFilter(
        label="きっかけ", choices=ScrapeRun.Trigger.choices, empty_label="すべて"
    )

    class Meta:
        model = ScrapeRun
        fields = ["source", "status", "trigger"]


RUN_EXPORT_COLUMNS: tuple[tuple[str, Any], ...] = (
    ("ID", lambda r: r.pk),
    ("取り込み設定", lambda r: r.source_name),
    ("きっかけ", lambda r: r.get_trigger_display()),
    ("実行した職員", lambda r: str(r.requested_by or "")),
    ("状態", lambda r: r.get_status_display()),
    ("開始", lambda r: local_time(r.started_at)),
    ("終了", lambda r: local_time(r.finished_at)),
    ("新規", lambda r: r.created_count),
    ("更新", lambda r: r.updated_count),
    ("変更なし", lambda r: r.unchanged_count),
    ("非公開", lambda r: r.unpublished_count),
    ("スキップ", lambda r: r.skipped_count),
    ("エラー", lambda r: r.error_count),
    ("メッセージ", lambda r: r.message),
)


class RunsView(HelpLinkMixin, SpreadsheetExportViewMixin, ReportView):
    """取り込み履歴: every run, newest first, with its counts; a run opens its lines."""

    page_title = TITLE
    header_icon = "history"
    help_page = "scraper"
    index_url_name = "scraper_admin:runs"
    index_results_url_name = "scraper_admin:runs_results"
    filterset_class = RunFilterSet
    permission_policy = ModelPermissionPolicy(ScrapeRun)
    permission_required = "view"
    paginate_by = 50
    columns = [
        TitleColumn(
            "started_at",
            label="開始",
            accessor=_run_label,
            get_url=lambda r: reverse("scraper_admin:run", args=[r.pk]),
        ),
        Column("source_name", label="取り込み設定"),
        Column("trigger", label="きっかけ", accessor="get_trigger_display"),
        Column("status", label="状態", accessor="get_status_display"),
        Column("created_count", label="新規"),
        Column("updated_count", label="更新"),
        Column("unchanged_count", label="変更なし"),
        Column("unpublished_count", label="非公開"),
        Column("skipped_count", label="スキップ"),
        Column("error_count", label="エラー"),
        Column("finished_at", label="終了", accessor=lambda r: local_time(r.finished_at)),
    ]
    export_name = TITLE
    export_filename_stem = "scraper-runs"
    export_columns = RUN_EXPORT_COLUMNS

    def get_queryset(self) -> QuerySet[ScrapeRun]:
        return ScrapeRun.objects.select_related("requested_by").order_by("-created_at", "-pk")

    def get_header_buttons(self) -> list[Any]:
        buttons = super().get_header_buttons()
        if self.request.user.has_perm(CHANGE_SOURCE):
            for index, source in enumerate(ScrapeSource.objects.order_by("name", "pk")[:5]):
                buttons.append(
                    HeaderButton(
                        label=f"今すぐ取り込む（{source.name}）",
                        url=reverse("scraper_admin:run_now", args=[source.pk]),
                        icon_name="download",
                        attrs={"data-scraper-run-now": str(source.pk)},
                        priority=100 + index,
                    )
                )
        return buttons


class LineFilterSet(WagtailFilterSet):
    action = django_filters.ChoiceFilter(label="結果", choices=Action.choices, empty_label="すべて")

    class Meta:
        model = ScrapeRunLine
        fields = ["action"]


def _page_edit_url(line: ScrapeRunLine) -> str | None:
    return reverse("wagtailadmin_pages:edit", args=[line.page_id]) if line.page_id else None


class RunLinesView(HelpLinkMixin, SpreadsheetExportViewMixin, ReportView):
    """One run: its facts and what happened to each URL (filter by 結果)."""

    header_icon = "history"
    help_page = "scraper"
    template_name = "scraper/run_lines.html"
    results_template_name = "scraper/run_lines_results.html"
    filterset_class = LineFilterSet
    permission_policy = ModelPermissionPolicy(ScrapeRun)
    permission_required = "view"
    paginate_by = 100
    columns = [
        Column("action", label="結果", accessor="get_action_display"),
        TitleColumn(
            "title", label="タイトル", accessor=lambda line: line.title or "—", get_url=_page_edit_url
        ),
        Column("url", label="URL"),
        Column("reason", label="理由"),
        Column("at", label="日時", accessor=lambda line: local_time(line.at)),
    ]
    export_name = "取り込み結果"
    export_filename_stem = "scraper-run"
    export_columns = (
        ("結果", lambda line: line.get_action_display()),
        ("タイトル", lambda line: line.title),
        ("URL", lambda line: line.url),
        ("理由", lambda line: line.reason),
        ("回答ページID", lambda line: line.page_id or ""),
        ("日時", lambda line: local_time(line.at)),
    )
    run: ScrapeRun

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        self.run = get_object_or_404(ScrapeRun, pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    def get_page_title(self) -> str:
        return f"{TITLE}: {self.run.source_name}（{_run_label(self.run)}）"

    def get_index_url(self) -> str:
        return reverse("scraper_admin:run", args=[self.run.pk])

    def get_index_results_url(self) -> str:
        return reverse("scraper_admin:run_results", args=[self.run.pk])

    def get_breadcrumbs_items(self) -> list[dict[str, str]]:
        return [
            HOME_CRUMB,
            {"url": reverse("scraper_admin:runs"), "label": TITLE},
            {"url": "", "label": f"{self.run.source_name}（{_run_label(self.run)}）"},
        ]

    def get_queryset(self) -> QuerySet[ScrapeRunLine]:
        return ScrapeRunLine.objects.filter(run=self.run).order_by("pk")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["run"] = self.run
        return context


class RunNowView(HelpLinkMixin, WagtailAdminTemplateMixin, TemplateView):
    """「今すぐ取り込む」: a confirmation (GET), then the run queued (POST)."""

    template_name = "scraper/run_now.html"
    header_icon = "download"
    help_page = "scraper"
    source: ScrapeSource

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        if not request.user.has_perm(CHANGE_SOURCE):
            raise PermissionDenied
        self.source = get_object_or_404(ScrapeSource, pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    def get_page_title(self) -> str:
        return f"今すぐ取り込む: {self.source.name}"

    def get_breadcrumbs_items(self) -> list[dict[str, str]]:
        return [
            HOME_CRUMB,
            {"url": reverse("scraper_admin:runs"), "label": TITLE},
            {"url": "", "label": "今すぐ取り込む"},
        ]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["source"] = self.source
        context["last_run"] = self.source.runs.order_by("-created_at", "-pk").first()
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        source = self.source
        try:
            services.request_run(source_id=source.pk, user=request.user)
        except services.ScrapeError as error:
            messages.error(request, str(error))
        else:
            messages.success(
                request,
                f"「{source.name}」の取り込みを始めました。終わると、この取り込み履歴に結果が表示されます"
                "（ページ数によっては時間がかかります）。",
            )
        return HttpResponseRedirect(reverse("scraper_admin:runs"))
