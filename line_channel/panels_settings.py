"""The LINE連携設定 edit screen: panels, the form that never shows secrets back, the action buttons.

The screen is Wagtail's own settings edit view (設定 → LINE連携設定); this module
only gives it panels and a form class (``LineChannelSettings.edit_handler``).
It imports no models, so ``line_channel.models`` can import it.

Secrets (channel secret, access token) are write-only on the screen: the input
is always empty, a stored value is announced as 「設定済み」, and leaving the
field empty keeps the stored value. The 「接続テスト」 and
「Webhook URL を設定してテスト」 buttons post the settings form (with its CSRF
token) to the actions in ``line_channel.views_settings`` via ``formaction``.
"""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.conf import settings
from django.urls import reverse
from wagtail.admin.forms import WagtailAdminModelForm
from wagtail.admin.panels import FieldPanel, MultiFieldPanel, ObjectList, Panel

SECRET_FIELDS = ("channel_secret", "access_token")
SET_PLACEHOLDER = "設定済み（変更するときだけ入力）"
UNSET_PLACEHOLDER = "未設定"
SECRET_HELP = {
    "channel_secret": (
        "LINE Developers コンソール →（プロバイダー）→ Messaging API チャネル →「チャネル基本設定」の"
        "「チャネルシークレット」。LINE からの通知が本物かを確かめるのに使います。"
    ),
    "access_token": (
        "同じチャネルの「Messaging API設定」タブの一番下、「チャネルアクセストークン（長期）」で"
        "「発行」したもの。メッセージの送信などに使います。"
    ),
}
DIGITS = re.compile(r"^[0-9]+$")
LIFF_ID = re.compile(r"^[0-9]+-[A-Za-z0-9]+$")


class SecretInput(forms.PasswordInput):
    """A password box that never renders the stored value and that browsers do not autofill."""

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        base = {"autocomplete": "new-password", "spellcheck": "false", "autocapitalize": "off"}
        super().__init__(attrs={**base, **(attrs or {})}, render_value=False)


class LineChannelSettingsForm(WagtailAdminModelForm):
    """Keeps a stored secret when its field is left empty; strips pasted whitespace; checks ids."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stored_secrets: dict[str, str] = {}
        for name in SECRET_FIELDS:
            field = self.fields.get(name)
            if field is None:
                continue
            stored = str(getattr(self.instance, name, "") or "")
            self.stored_secrets[name] = stored
            field.required = False
            field.strip = True
            field.widget.attrs["placeholder"] = SET_PLACEHOLDER if stored else UNSET_PLACEHOLDER
            status = "【設定済み】空欄のまま保存すると、今の値を使い続けます。" if stored else "【未設定】"
            field.help_text = f"{status}{SECRET_HELP[name]}"

    def _secret(self, name: str) -> str:
        typed = "".join(str(self.cleaned_data.get(name) or "").split())
        return typed or self.stored_secrets.get(name, "")

    def clean_channel_secret(self) -> str:
        return self._secret("channel_secret")

    def clean_access_token(self) -> str:
        return self._secret("access_token")

    def _digits(self, name: str) -> str:
        value = str(self.cleaned_data.get(name) or "").strip()
        if value and not DIGITS.match(value):
            raise forms.ValidationError(
                "数字だけで入力してください（LINE Developers コンソールに表示される ID）。"
            )
        return value

    def clean_channel_id(self) -> str:
        return self._digits("channel_id")

    def clean_login_channel_id(self) -> str:
        return self._digits("login_channel_id")

    def clean_liff_id(self) -> str:
        value = "".join(str(self.cleaned_data.get("liff_id") or "").split())
        if value and not LIFF_ID.match(value):
            raise forms.ValidationError(
                "LIFF ID は「数字-英数字」の形です（例: 1657000000-AbCdEfGh）。"
                "LINE Developers コンソールの LIFF タブに表示される ID を入れてください。"
            )
        return value


class TemplatePanel(Panel):
    """A panel rendered from our own template, with the setting and the action URLs in its context."""

    def __init__(self, template: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.template = template

    def clone_kwargs(self) -> dict[str, Any]:
        kwargs = super().clone_kwargs()
        kwargs["template"] = self.template
        return kwargs

    class BoundPanel(Panel.BoundPanel):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.template_name = self.panel.template

        def get_context_data(self, parent_context: Any = None) -> dict[str, Any]:
            from line_channel.services_settings import webhook_url_for

            context: dict[str, Any] = super().get_context_data(parent_context)
            context.update(
                setting=self.instance,
                webhook_url=webhook_url_for(settings.WAGTAILADMIN_BASE_URL),
                connection_test_url=reverse("line_channel_connection_test"),
                webhook_register_url=reverse("line_channel_webhook_register"),
                manual_url=reverse("kairan_manual:page", args=["line-settings"]),
            )
            return context


SETTINGS_EDIT_HANDLER = ObjectList(
    [
        TemplatePanel(template="line_channel/settings_intro_panel.html", heading="この画面について"),
        MultiFieldPanel(
            [
                FieldPanel(
                    "channel_id",
                    help_text=(
                        "LINE Developers コンソール →（プロバイダー）→ Messaging API チャネル →"
                        "「チャネル基本設定」の「チャネルID」（10桁の数字）。"
                    ),
                ),
                FieldPanel("channel_secret", widget=SecretInput()),
                FieldPanel("access_token", widget=SecretInput()),
            ],
            heading="Messaging API チャネル",
        ),
        MultiFieldPanel(
            [
                FieldPanel(
                    "login_channel_id",
                    help_text=(
                        "LIFF アプリ（フォームなどのページ）が属する LINE ログインチャネルの「チャネルID」。"
                        "Messaging API チャネルと同じプロバイダーのものを指定してください"
                        "（違うプロバイダーだと、同じ市民でもユーザーIDが変わります）。"
                    ),
                ),
                FieldPanel(
                    "liff_id",
                    help_text=(
                        "LINE ログインチャネルの「LIFF」タブで追加した LIFF アプリの「LIFF ID」。"
                        "LIFF アプリの「エンドポイント URL」は、このサイトの URL に /liff/ を付けたもの"
                        "（マイページ）にします。空欄のときは、サーバーの設定 KAIRAN_LIFF_ID を使います。"
                    ),
                ),
            ],
            heading="LINE ログインチャネル（LIFF）",
        ),
        TemplatePanel(template="line_channel/settings_connection_panel.html", heading="接続テストと Webhook"),
    ],
    base_form_class=LineChannelSettingsForm,
)
