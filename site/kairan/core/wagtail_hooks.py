from __future__ import annotations

from typing import Any

from django.templatetags.static import static
from django.utils.html import format_html
from wagtail import hooks


@hooks.register("insert_global_admin_js")
def admin_init_js() -> str:
    """Initialisers for widgets whose inline scripts our CSP blocks."""
    return format_html('<script src="{}"></script>', static("kairan/admin-init.js"))


@hooks.register("construct_main_menu")
def hide_wagtail_help_menu(request: Any, menu_items: list[Any]) -> None:
    """Wagtail's 「Help」 menu links to wagtail.org (English, on the internet);
    staff use our 「マニュアル」 instead."""
    menu_items[:] = [item for item in menu_items if item.name != "help"]


def _label_bulk_page_option() -> None:
    """Wagtail's bulk page actions (公開, 非公開, 移動, 削除) name their one option after its form field
    ("Include descendants"), which no catalogue can translate: it gets a Japanese label here."""
    from wagtail.admin.views.pages.bulk_actions.page_bulk_action import DefaultPageForm

    DefaultPageForm.base_fields["include_descendants"].label = "下の階層のページも含める"


_label_bulk_page_option()
