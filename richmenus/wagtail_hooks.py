"""リッチメニュー in the Wagtail admin: the メニューセット snippet with its own menu item."""

from __future__ import annotations

from wagtail.admin.ui.tables import UpdatedAtColumn
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import SnippetViewSet

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
