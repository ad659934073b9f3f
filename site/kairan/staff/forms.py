from __future__ import annotations

from typing import Any

from django import forms
from wagtail.admin.forms.auth import LoginForm as WagtailLoginForm


class TokenForm(forms.Form):
    token = forms.CharField(
        label="認証コード（6桁）",
        min_length=6,
        max_length=6,
        strip=True,
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "pattern": "[0-9]{6}", "size": 8}
        ),
        help_text="認証アプリに表示されている6桁の数字を入力してください。",
        error_messages={
            "required": "認証コードを入力してください。",
            "min_length": "認証コードは6桁の数字です。",
            "max_length": "認証コードは6桁の数字です。",
        },
    )

    def clean_token(self) -> str:
        token: str = self.cleaned_data["token"].replace(" ", "")
        if not token.isdigit():
            raise forms.ValidationError("認証コードは6桁の数字です。")
        return token


class LoginForm(WagtailLoginForm):
    """Wagtail's login form with labels: Wagtail leaves the password field
    unlabelled, so Django would show the untranslatable field name."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["password"].label = "パスワード"
        self.fields["remember"].label = "ログイン状態を保持する"
