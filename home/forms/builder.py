"""Wagtail's FormBuilder for our field types, and the form class it builds.

The form applies display conditions on the server: a field whose condition is
not met is not required, and whatever was sent for it is dropped, so the
result is the same with or without the page's JavaScript.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from django import forms
from django.utils.html import conditional_escape
from wagtail.contrib.forms.forms import BaseForm, FormBuilder

from home.forms import fields as kf
from home.forms.blocks import FieldSpec


class KairanBoundField(forms.BoundField):
    """Ties each input to its help text and error message (``aria-describedby``)."""

    @property
    def help_id(self) -> str:
        return f"{self.auto_id}_helptext"

    @property
    def error_id(self) -> str:
        return f"{self.auto_id}_error"

    @property
    def described_by(self) -> str:
        ids = []
        if self.help_text:
            ids.append(self.help_id)
        if self.errors:
            ids.append(self.error_id)
        return " ".join(ids)

    def build_widget_attrs(self, attrs: Any, widget: Any = None) -> dict[str, Any]:
        attrs = super().build_widget_attrs(attrs, widget)
        attrs.pop("aria-describedby", None)
        if described_by := self.described_by:
            attrs["aria-describedby"] = described_by
        return attrs


@dataclass
class FormItem:
    """One thing the template shows, in order: a heading, a paragraph or a field."""

    spec: FieldSpec
    field: KairanBoundField | None = None

    @property
    def uses_fieldset(self) -> bool:
        if self.field is None:
            return False
        return bool(self.field.field.widget.use_fieldset) or self.spec.field_type in (
            "name",
            "address",
            "location",
        )

    @property
    def first_input_id(self) -> str:
        """Where the error summary's link for this field should land."""
        if self.field is None:
            return ""
        # Django numbers the inputs of a multi-part or multiple-choice widget: <id>_0, <id>_1, ...
        if isinstance(self.field.field.widget, forms.MultiWidget) or self.field.field.widget.use_fieldset:
            return f"{self.field.auto_id}_0"
        return str(self.field.auto_id)

    @property
    def condition_values(self) -> str:
        return " ".join(sorted(self.spec.condition[1])) if self.spec.condition else ""


class KairanForm(BaseForm):
    """Base of every generated form: no browser-side ``required``; conditions applied on clean."""

    specs: ClassVar[Sequence[FieldSpec]] = ()
    bound_field_class = KairanBoundField
    use_required_attribute = False

    def hidden_keys(self, values: dict[str, Any]) -> set[str]:
        """Keys of the fields whose display condition is not met by ``values``."""
        shown: dict[str, bool] = {}
        for spec in self.specs:
            if spec.clean_name not in self.fields:
                continue
            visible = True
            if spec.condition is not None:
                controller, codes = spec.condition
                answer = values.get(controller)
                selected = set(answer) if isinstance(answer, list) else {answer}
                visible = shown.get(controller, False) and bool(selected & codes)
            shown[spec.clean_name] = visible
        return {key for key, visible in shown.items() if not visible}

    def full_clean(self) -> None:
        super().full_clean()
        if not self.is_bound or not hasattr(self, "cleaned_data"):
            return
        for key in self.hidden_keys(self.cleaned_data):
            self.cleaned_data.pop(key, None)
            if self._errors is not None:
                self._errors.pop(key, None)

    def items(self) -> list[FormItem]:
        """What the template renders: display-only items and the resident's fields, in order."""
        result = []
        for spec in self.specs:
            if not spec.is_answer:
                result.append(FormItem(spec))
            elif spec.clean_name in self.fields:
                result.append(FormItem(spec, self[spec.clean_name]))
        return result

    def error_items(self) -> list[FormItem]:
        return [item for item in self.items() if item.field is not None and item.field.errors]


class KairanFormBuilder(FormBuilder):
    """Builds the resident's form from field specs (staff-only fields are left out by the page)."""

    def __init__(self, fields: Sequence[FieldSpec], *, all_specs: Sequence[FieldSpec] | None = None) -> None:
        super().__init__(fields)
        self.all_specs = list(all_specs if all_specs is not None else fields)

    def get_field_options(self, field: FieldSpec) -> dict[str, Any]:
        options: dict[str, Any] = {
            "label": field.label,
            "help_text": conditional_escape(field.help_text),
            "required": field.required,
        }
        if field.default_value:
            options["initial"] = field.default_value
        return options

    def create_singleline_field(self, field: FieldSpec, options: dict[str, Any]) -> forms.Field:
        o = field.options
        return kf.TextField(
            min_length=o.get("min_length"),
            max_length=o.get("max_length") or 255,
            pattern=o.get("pattern", ""),
            pattern_message=o.get("pattern_message", ""),
            **options,
        )

    def create_multiline_field(self, field: FieldSpec, options: dict[str, Any]) -> forms.Field:
        return kf.TextField(
            max_length=field.options.get("max_length") or 10000,
            widget=forms.Textarea(attrs={"rows": 5}),
            **options,
        )

    def create_number_field(self, field: FieldSpec, options: dict[str, Any]) -> forms.Field:
        return kf.NumberField(
            min_value=field.options.get("min_value"), max_value=field.options.get("max_value"), **options
        )

    def create_email_field(self, field: FieldSpec, options: dict[str, Any]) -> forms.Field:
        return kf.EmailField(**options)

    def create_date_field(self, field: FieldSpec, options: dict[str, Any]) -> forms.Field:
        return kf.DateField(**options)

    def create_choice_field(self, field: FieldSpec, options: dict[str, Any]) -> forms.Field:
        return kf.SingleChoiceField(
            choices=field.choices, dropdown=field.options.get("display") == "dropdown", **options
        )

    def create_choices_field(self, field: FieldSpec, options: dict[str, Any]) -> forms.Field:
        return kf.MultipleChoiceField(
            choices=field.choices,
            min_count=field.options.get("min_count"),
            max_count=field.options.get("max_count"),
            **options,
        )

    def create_birth_year_field(self, field: FieldSpec, options: dict[str, Any]) -> forms.Field:
        return kf.BirthYearField(**options)

    def create_name_field(self, field: FieldSpec, options: dict[str, Any]) -> forms.Field:
        return kf.NameField(kana=field.options.get("kana", "none"), **options)

    def create_address_field(self, field: FieldSpec, options: dict[str, Any]) -> forms.Field:
        initial = options.pop("initial", "")
        options["initial"] = {"postal_code": "", "address": initial} if initial else None
        return kf.AddressField(**options)

    def create_phone_field(self, field: FieldSpec, options: dict[str, Any]) -> forms.Field:
        return kf.PhoneField(**options)

    def create_photo_field(self, field: FieldSpec, options: dict[str, Any]) -> forms.Field:
        return kf.PhotoField(
            max_count=field.options.get("max_count") or 1,
            max_size_mb=field.options.get("max_size_mb") or 10,
            **options,
        )

    def create_location_field(self, field: FieldSpec, options: dict[str, Any]) -> forms.Field:
        return kf.LocationField(**options)

    def create_agree_field(self, field: FieldSpec, options: dict[str, Any]) -> forms.Field:
        return kf.AgreementField(**options)

    def get_form_class(self) -> type[KairanForm]:
        attrs: dict[str, Any] = dict(self.formfields)
        attrs["specs"] = self.all_specs
        return type("KairanGeneratedForm", (KairanForm,), attrs)
