"""Admin URLs of the form foundation (imported by ``home.wagtail_hooks``, where Wagtail looks)."""

from __future__ import annotations

from typing import Any

from django.urls import include, path
from wagtail import hooks


@hooks.register("register_admin_urls")
def register_admin_urls() -> list[Any]:
    from home.forms import views

    urls = [
        path("submissions/<int:submission_id>/photos/<str:key>/<int:index>/", views.photo, name="photo"),
    ]
    return [path("kairan-forms/", include((urls, "kairan_forms"), namespace="kairan_forms"))]
