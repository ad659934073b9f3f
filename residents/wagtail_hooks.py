"""Wagtail admin hooks of the residents app."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from wagtail import hooks

from residents.dashboard import dashboard_panel


@hooks.register("construct_homepage_panels")
def add_attribute_distribution_panel(request: HttpRequest, panels: list[Any]) -> None:
    """受信設定の登録状況 on the dashboard, when the site has a 受信設定 form."""
    if (panel := dashboard_panel()) is not None:
        panels.append(panel)
