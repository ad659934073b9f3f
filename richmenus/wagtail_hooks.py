"""リッチメニュー in the Wagtail admin: the メニューセット snippet with its own menu item."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import include, path, reverse
from wagtail import hooks
from wagtail.admin.menu import MenuItem
from wagtail.admin.ui.components import Component
from wagtail.admin.ui.tables import UpdatedAtColumn
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import SnippetViewSet

from kairan.core.menu import PermissionMenuItem
from richmenus import views_emergency
from richmenus.models import MenuSet


class MenuSetViewSet(SnippetViewSet):
    model = MenuSet
    icon = "table"
    menu_label = "リッチメニュー"
    menu_name = "richmenus"
    menu_order = 260
    add_to_admin_menu = True
    list_display = ["name", "purpose", "is_default", UpdatedAtColumn()]
    list_filter = ["purpose"]
    copy_view_enabled = True


menu_set_viewset = MenuSetViewSet()
register_snippet(menu_set_viewset)


@hooks.register("register_admin_urls")
def register_emergency_urls() -> list[Any]:
    urls = [path("", views_emergency.EmergencyView.as_view(), name="index")]
    return [path("emergency/", include((urls, "richmenus_emergency")))]


@hooks.register("register_admin_menu_item")
def register_emergency_menu() -> MenuItem:
    """災害モード, one click from any admin page (its page is the switch's confirmation)."""
    return PermissionMenuItem(
        "災害モード",
        reverse("richmenus_emergency:index"),
        name="emergency",
        icon_name="warning",
        order=5,
        permissions=(views_emergency.PERMISSION,),
    )


class EmergencyPanel(Component):
    """The dashboard's 災害モード button (or the state, when it is on)."""

    name = "emergency"
    order = 10
    template_name = "richmenus/emergency_panel.html"

    def get_context_data(self, parent_context: Any = None) -> dict[str, Any]:
        from richmenus.emergency import active

        return {"switch": active(), "url": reverse("richmenus_emergency:index")}


@hooks.register("construct_homepage_panels")
def add_emergency_panel(request: HttpRequest, panels: list[Any]) -> None:
    if request.user.has_perm(views_emergency.PERMISSION):
        panels.insert(0, EmergencyPanel())


@hooks.register("insert_editor_js")
def area_editor_js() -> str:
    """The visual area editor of the メニューセット's tabs (it does nothing on other editors): its
    geometry, then the editor that uses it (deferred scripts run in order)."""
    from django.templatetags.static import static
    from django.utils.html import format_html_join

    scripts = ("richmenus/area-geometry.js", "richmenus/area-editor.js")
    return format_html_join("", '<script src="{}" defer></script>', ((static(name),) for name in scripts))


@hooks.register("insert_global_admin_css")
def area_editor_css() -> str:
    """Its styles (Wagtail 8 has no editor-only CSS hook; the rules are scoped to .rm-editor)."""
    from django.templatetags.static import static
    from django.utils.html import format_html

    return format_html('<link rel="stylesheet" href="{}">', static("richmenus/area-editor.css"))
