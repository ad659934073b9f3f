"""Wagtail admin hooks of the residents app."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import include, path, reverse
from wagtail import hooks
from wagtail.admin.menu import Menu, MenuItem, SubmenuMenuItem
from wagtail.admin.panels import FieldPanel
from wagtail.admin.ui.tables import BooleanColumn, Column
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import SnippetViewSet

from kairan.core.menu import PermissionMenuItem
from residents import views_staff
from residents.dashboard import dashboard_panel
from residents.models import TermsVersion


@hooks.register("construct_homepage_panels")
def add_attribute_distribution_panel(request: HttpRequest, panels: list[Any]) -> None:
    """受信設定の登録状況 on the dashboard, when the site has a 受信設定 form."""
    if (panel := dashboard_panel()) is not None:
        panels.append(panel)


# --- 市民の情報 (staff screens about one resident) and 利用規約・プライバシーポリシー --------------------

resident_urls = [
    path("", views_staff.SearchView.as_view(), name="search"),
    path("<str:key>/", views_staff.DetailView.as_view(), name="detail"),
    path("<str:key>/export/", views_staff.export, name="export"),
    path("<str:key>/settings/", views_staff.EditView.as_view(), name="edit"),
    path("<str:key>/withdraw/", views_staff.WithdrawView.as_view(), name="withdraw"),
]


@hooks.register("register_admin_urls")
def register_resident_urls() -> list[Any]:
    return [path("residents/", include((resident_urls, "residents_admin")))]


class TermsVersionViewSet(SnippetViewSet):
    model = TermsVersion
    icon = "doc-full"
    menu_label = "利用規約・プライバシーポリシー"
    list_display = [
        "version",
        "effective_at",
        BooleanColumn("in_force", label="施行中"),
        BooleanColumn("requires_reagreement", label="同意し直してもらう"),
        Column("agreed_count", label="同意した人数"),
    ]
    panels = [
        FieldPanel("version"),
        FieldPanel("effective_at"),
        FieldPanel("requires_reagreement"),
        FieldPanel("change_summary"),
        FieldPanel("purpose"),
        FieldPanel("terms"),
        FieldPanel("privacy_policy"),
    ]


terms_viewset = TermsVersionViewSet()
register_snippet(terms_viewset)


@hooks.register("register_admin_menu_item")
def register_residents_menu() -> MenuItem:
    menu = Menu(
        items=[
            PermissionMenuItem(
                views_staff.TITLE,
                reverse("residents_admin:search"),
                name="resident-search",
                icon_name="user",
                order=10,
                permissions=(views_staff.VIEW_PERMISSION,),
            ),
            PermissionMenuItem(
                "利用規約・プライバシーポリシー",
                reverse(terms_viewset.get_url_name("list")),
                name="resident-terms",
                icon_name="doc-full",
                order=20,
                permissions=tuple(f"residents.{a}_termsversion" for a in ("view", "add", "change")),
            ),
        ]
    )
    return SubmenuMenuItem("市民", menu, name="residents", icon_name="user", order=260)


@hooks.register("register_permissions")
def residents_permissions() -> Any:
    """The rights of 市民の情報, grantable in Wagtail's group screen (設定 → グループ)."""
    from django.contrib.auth.models import Permission

    return Permission.objects.filter(
        content_type__app_label="residents",
        codename__in=["view_personal_data", "change_residentattributes", "delete_residentattributes"],
    )
