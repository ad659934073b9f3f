"""Wagtail admin of ホームページ取り込み: the 取り込み設定 snippet, the 取り込み履歴 report,
「今すぐ取り込む」 and the menu that holds them."""

from __future__ import annotations

from typing import Any

from django.urls import include, path, reverse
from django.utils import timezone
from wagtail import hooks
from wagtail.admin.menu import Menu, MenuItem, SubmenuMenuItem
from wagtail.admin.panels import ObjectList
from wagtail.admin.ui.menus import MenuItem as ListingMenuItem
from wagtail.admin.ui.tables import Column
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import IndexView, SnippetViewSet

from kairan.core.menu import PermissionMenuItem
from scraper import views
from scraper.forms import ScrapeSourceForm
from scraper.models import ScrapeSource

admin_urls = [
    path("history/", views.RunsView.as_view(), name="runs"),
    path("history/results/", views.RunsView.as_view(results_only=True), name="runs_results"),
    path("history/<int:pk>/", views.RunLinesView.as_view(), name="run"),
    path("history/<int:pk>/results/", views.RunLinesView.as_view(results_only=True), name="run_results"),
    path("sources/<int:pk>/run/", views.RunNowView.as_view(), name="run_now"),
]


@hooks.register("register_admin_urls")
def register_scraper_urls() -> list[Any]:
    return [path("scraper/", include((admin_urls, "scraper_admin"), namespace="scraper_admin"))]


def last_run(source: ScrapeSource) -> str:
    run = source.runs.order_by("-created_at", "-pk").first()
    if run is None:
        return "まだありません"
    when = timezone.localtime(run.started_at or run.created_at).strftime("%Y-%m-%d %H:%M")
    return f"{when}（{run.get_status_display()}）"


class SourceIndexView(IndexView):
    """The list of 取り込み設定, each with 「今すぐ取り込む」 for staff who may change it."""

    def get_list_more_buttons(self, instance: Any) -> list[Any]:
        buttons = list(super().get_list_more_buttons(instance))
        if self.request.user.has_perm(views.CHANGE_SOURCE):
            buttons.append(
                ListingMenuItem(
                    "今すぐ取り込む",
                    url=reverse("scraper_admin:run_now", args=[instance.pk]),
                    icon_name="download",
                    priority=5,
                )
            )
        return buttons


class ScrapeSourceViewSet(SnippetViewSet):
    model = ScrapeSource
    icon = "download"
    menu_label = "取り込み設定"
    index_view_class = SourceIndexView
    edit_handler = ObjectList(ScrapeSource.panels, base_form_class=ScrapeSourceForm)
    list_display = [
        "name",
        Column("site", label="サイト", accessor="base_url"),
        Column(
            "auto_publish", label="公開", accessor=lambda s: "自動で公開" if s.auto_publish else "承認を依頼"
        ),
        Column("enabled", label="定時の取り込み", accessor=lambda s: "する" if s.enabled else "しない"),
        Column("last_run", label="前回の取り込み", accessor=last_run),
    ]


source_viewset = ScrapeSourceViewSet()
register_snippet(source_viewset)


@hooks.register("register_admin_menu_item")
def register_scraper_menu() -> MenuItem:
    menu = Menu(
        items=[
            PermissionMenuItem(
                "取り込み設定",
                reverse(source_viewset.get_url_name("list")),
                name="scraper-sources",
                icon_name="cog",
                order=10,
                permissions=(
                    "scraper.view_scrapesource",
                    "scraper.add_scrapesource",
                    "scraper.change_scrapesource",
                ),
            ),
            PermissionMenuItem(
                views.TITLE,
                reverse("scraper_admin:runs"),
                name="scraper-runs",
                icon_name="history",
                order=20,
                permissions=("scraper.view_scraperun",),
            ),
        ]
    )
    return SubmenuMenuItem("ホームページ取り込み", menu, name="scraper", icon_name="download", order=290)
