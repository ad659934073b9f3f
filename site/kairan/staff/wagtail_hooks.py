from __future__ import annotations

from django.urls import path
from wagtail import hooks

from kairan.staff import views


@hooks.register("register_admin_urls")
def register_mfa_urls() -> list:
    return [
        path("mfa/verify/", views.mfa_verify, name="kairan_mfa_verify"),
        path("mfa/setup/", views.mfa_setup, name="kairan_mfa_setup"),
        path("mfa/reset/<int:user_id>/", views.mfa_reset, name="kairan_mfa_reset"),
    ]
