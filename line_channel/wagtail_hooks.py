"""Wagtail admin hooks of the LINE channel."""

from __future__ import annotations

from typing import Any

from django.urls import include, path, reverse
from wagtail import hooks
from wagtail.admin.menu import MenuItem

from line_channel import views_events, views_followers, views_settings


@hooks.register("register_admin_urls")
def register_line_settings_urls() -> list[Any]:
    """The buttons of LINE連携設定 (接続テスト, Webhook URL を設定してテスト)."""
    return [
        path(
            "line/settings/connection-test/",
            views_settings.connection_test,
            name="line_channel_connection_test",
        ),
        path(
            "line/settings/webhook/",
            views_settings.webhook_register,
            name="line_channel_webhook_register",
        ),
    ]


# --- 友だち一覧 (followers) ---------------------------------------------------------------------

follower_urls = [
    path("", views_followers.FollowersView.as_view(), name="index"),
    path("results/", views_followers.FollowersView.as_view(results_only=True), name="results"),
]


@hooks.register("register_admin_urls")
def register_follower_urls() -> list[Any]:
    return [path("line/followers/", include((follower_urls, "line_channel_followers")))]


class FollowersMenuItem(MenuItem):
    def is_shown(self, request: Any) -> bool:
        return bool(request.user.has_perm("line_channel.view_follower"))


@hooks.register("register_admin_menu_item")
def register_followers_menu_item() -> MenuItem:
    return FollowersMenuItem(
        "友だち", reverse("line_channel_followers:index"), name="line-followers", icon_name="group", order=250
    )


# --- LINE 受信イベント (webhook events) -------------------------------------------------------------

event_urls = [
    path("", views_events.WebhookEventsView.as_view(), name="index"),
    path("results/", views_events.WebhookEventsView.as_view(results_only=True), name="results"),
]


@hooks.register("register_admin_urls")
def register_event_urls() -> list[Any]:
    return [path("line/events/", include((event_urls, "line_channel_events")))]


class EventsMenuItem(MenuItem):
    def is_shown(self, request: Any) -> bool:
        return bool(request.user.has_perm("line_channel.view_webhookevent"))


@hooks.register("register_reports_menu_item")
def register_events_menu_item() -> MenuItem:
    return EventsMenuItem(
        "LINE 受信イベント",
        reverse("line_channel_events:index"),
        name="line-events",
        icon_name="mail",
        order=910,
    )


@hooks.register("register_permissions")
def line_channel_permissions() -> Any:
    """Reading the 友だち list and LINE 受信イベント, grantable in Wagtail's group screen."""
    from django.contrib.auth.models import Permission

    return Permission.objects.filter(
        content_type__app_label="line_channel", codename__in=["view_follower", "view_webhookevent"]
    )
