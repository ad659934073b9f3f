"""Password policy beyond Django's built-in validators."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError


class CharacterClassValidator:
    """Requires both letters and digits, and a symbol or a mix of upper and lower case."""

    def validate(self, password: str, user: Any = None) -> None:
        has_letter = any(c.isalpha() for c in password)
        has_digit = any(c.isdigit() for c in password)
        has_symbol = any(not c.isalnum() for c in password)
        has_mixed_case = any(c.islower() for c in password) and any(c.isupper() for c in password)
        if not (has_letter and has_digit and (has_symbol or has_mixed_case)):
            raise ValidationError(self.get_help_text(), code="password_character_classes")

    def get_help_text(self) -> str:
        return "パスワードには英字と数字を含め、さらに記号か大文字・小文字の両方を使ってください。"
