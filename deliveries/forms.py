"""The delivery editor's form: choices as radio buttons and check boxes, never JSON."""

from __future__ import annotations

from typing import Any

from django import forms
from wagtail.admin.forms import WagtailAdminModelForm

WEEKDAY_CHOICES = [(0, "月"), (1, "火"), (2, "水"), (3, "木"), (4, "金"), (5, "土"), (6, "日")]


class DeliveryForm(WagtailAdminModelForm):
    class Media:
        js = ["deliveries/delivery-form.js"]

    repeat_weekdays = forms.TypedMultipleChoiceField(
        label="曜日",
        choices=WEEKDAY_CHOICES,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="「毎週」のとき、送る曜日を選びます。",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("audience", "timing"):
            if name in self.fields:
                field = self.fields[name]
                field.widget = forms.RadioSelect(choices=field.choices)
        if "repeat_weekdays" in self.fields and self.instance is not None:
            self.initial.setdefault("repeat_weekdays", list(self.instance.repeat_weekdays or []))

    def save(self, commit: bool = True) -> Any:
        """A new delivery's 作成者 is whoever creates it in the admin (kept in its revisions)."""
        user = self.for_user
        if self.instance.pk is None and user is not None and user.is_authenticated:
            self.instance.created_by = user
        return super().save(commit=commit)
