from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel, HelpPanel
from wagtail.contrib.settings.models import BaseGenericSetting, register_setting


@register_setting(icon="lock")
class SecuritySettings(BaseGenericSetting):
    """Security policy that システム管理者 change in the admin (設定 → セキュリティ)."""

    mfa_required_for_all = models.BooleanField(
        _("全職員に二要素認証を必須にする"),
        default=False,
        help_text=_(
            "オフでも、システム管理者には常に二要素認証が必要です。オンにすると、承認者・担当者・閲覧者も"
            "次回ログイン時に認証アプリの登録を求められます。"
        ),
    )

    panels = [
        HelpPanel(content="<p>職員のログインに関する設定です。変更は操作ログに記録されます。</p>"),
        FieldPanel("mfa_required_for_all"),
    ]

    class Meta:
        verbose_name = _("セキュリティ")
