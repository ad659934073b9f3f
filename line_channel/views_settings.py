"""The two buttons of LINE連携設定: 接続テスト and Webhook URL を設定してテスト.

Thin views: they check the setting's own permission (システム管理者), refuse to
act on values typed but not saved, call the service and show its message on
the settings screen they came from. Both are CSRF-protected POSTs (the
buttons submit the settings form through ``formaction``).
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST
from wagtail.admin import messages
from wagtail.permissions import policy_registry

from line_channel import services_settings
from line_channel.models import LineChannelSettings
from line_channel.panels_settings import SECRET_FIELDS

UNSAVED = (
    "入力した値がまだ保存されていません。先に画面下の「保存」を押してから、もう一度ボタンを押してください。"
    "（テストは保存済みの設定で行うため、今回は実行しませんでした。）"
)


def _settings_screen(config: LineChannelSettings) -> str:
    meta = LineChannelSettings._meta
    return reverse("wagtailsettings:edit", args=[meta.app_label, meta.model_name, config.pk])


def _allowed(request: HttpRequest) -> LineChannelSettings:
    policy = policy_registry.get_by_type(LineChannelSettings)
    if not policy.user_has_permission(request.user, "change"):
        raise PermissionDenied
    return LineChannelSettings.load(request_or_site=request)


def _has_unsaved_input(request: HttpRequest, config: LineChannelSettings) -> bool:
    """Whether the settings form posted with the button holds values that differ from the stored ones."""
    for name in ("channel_id", "login_channel_id"):
        if name in request.POST and request.POST[name].strip() != (getattr(config, name) or ""):
            return True
    return any("".join(request.POST.get(name, "").split()) for name in SECRET_FIELDS)


@require_POST
def connection_test(request: HttpRequest) -> HttpResponse:
    config = _allowed(request)
    if _has_unsaved_input(request, config):
        messages.warning(request, UNSAVED)
        return redirect(_settings_screen(config))
    result = services_settings.test_connection(
        user=request.user,
        expected_webhook_url=services_settings.webhook_url_for(settings.WAGTAILADMIN_BASE_URL),
    )
    (messages.success if result.ok else messages.error)(request, result.message)
    for warning in result.warnings:
        messages.warning(request, warning)
    return redirect(_settings_screen(config))


@require_POST
def webhook_register(request: HttpRequest) -> HttpResponse:
    config = _allowed(request)
    if _has_unsaved_input(request, config):
        messages.warning(request, UNSAVED)
        return redirect(_settings_screen(config))
    result = services_settings.register_webhook(base_url=settings.WAGTAILADMIN_BASE_URL, user=request.user)
    (messages.success if result.ok else messages.error)(request, result.message)
    for warning in result.warnings:
        messages.warning(request, warning)
    return redirect(_settings_screen(config))
