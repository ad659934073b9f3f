from __future__ import annotations

from django.urls import include, path, reverse
from wagtail import hooks
from wagtail.admin.menu import MenuItem

from kairan.manual import urls


@hooks.register("register_admin_urls")
def register_manual_urls() -> list:
    return [path("manual/", include(urls, namespace="kairan_manual"))]


@hooks.register("register_admin_menu_item")
def register_manual_menu_item() -> MenuItem:
    # Below 設定 (10000) and above Wagtail's own ヘルプ (11000); every staff role sees it.
    return MenuItem(
        "マニュアル", reverse("kairan_manual:index"), name="manual", icon_name="help", order=10500
    )
