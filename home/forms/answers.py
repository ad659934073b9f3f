"""Answers as staff read them: labels for choice codes, composite values in one line.

Columns come from the page's field history (every field ever published, in the
form's order, removed ones last and marked 「（削除済み）」), falling back to the
current fields for a form not published yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from home.forms.fields import NO_ANSWER, NO_ANSWER_LABEL, format_postal_code

if TYPE_CHECKING:
    from home.forms.models import FormPageSubmission


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    field_type: str
    choices: dict[str, str] = field(default_factory=dict)
    retired: bool = False
    staff_only: bool = False

    @property
    def heading(self) -> str:
        return f"{self.label}（削除済み）" if self.retired else self.label


def columns_for_page(page: Any) -> list[Column]:
    """The answer columns of a form page, in a stable order."""
    from home.forms.models import BaseFormPage, FormFieldHistory

    history = list(FormFieldHistory.objects.filter(page_id=page.pk))
    columns = [
        Column(h.key, h.label, h.field_type, dict(h.choices or {}), h.retired, h.staff_only) for h in history
    ]
    specific = page if isinstance(page, BaseFormPage) else page.specific
    if not isinstance(specific, BaseFormPage):
        return columns
    known = {column.key for column in columns}
    for spec in specific.get_form_fields():  # fields not published yet (a draft, a preview)
        if spec.clean_name not in known:
            columns.append(Column(spec.clean_name, spec.label, spec.field_type, dict(spec.choices)))
    return columns


def choice_label(column: Column, code: str) -> str:
    if code == NO_ANSWER:
        return NO_ANSWER_LABEL
    return column.choices.get(code, code)


def format_name(value: dict[str, Any]) -> str:
    """「大船渡 太郎（オオフナト タロウ）」."""
    name = f"{value.get('family', '')} {value.get('given', '')}".strip()
    kana = f"{value.get('family_kana', '')} {value.get('given_kana', '')}".strip()
    return f"{name}（{kana}）" if kana else name


def format_address(value: dict[str, Any]) -> str:
    """「〒022-8501 岩手県大船渡市盛町字宇津野沢15」."""
    postal = value.get("postal_code") or ""
    address = value.get("address") or ""
    return f"〒{format_postal_code(postal)} {address}".strip() if postal else address


def format_location(value: dict[str, Any]) -> str:
    return f"{value.get('lat')}, {value.get('lng')}"


def photo_url(submission: FormPageSubmission, key: str, index: int, *, absolute: bool = False) -> str:
    path = reverse("kairan_forms:photo", args=[submission.pk, key, index])
    return settings.WAGTAILADMIN_BASE_URL.rstrip("/") + path if absolute else path


def format_value(column: Column, value: Any) -> Any:
    """A stored answer as plain text (or a number) for listings and exports; photos as a count."""
    if value in (None, "", [], {}):
        return ""
    kind = column.field_type
    if kind == "choice":
        return choice_label(column, str(value))
    if kind == "choices":
        return "、".join(choice_label(column, str(code)) for code in value)
    if kind == "name" and isinstance(value, dict):
        return format_name(value)
    if kind == "address" and isinstance(value, dict):
        return format_address(value)
    if kind == "location" and isinstance(value, dict):
        return format_location(value)
    if kind == "photo" and isinstance(value, list):
        return f"{len(value)}枚"
    if kind == "agree":
        return "同意する" if value else ""
    if kind == "birth_year":
        return int(value)
    if kind == "number":
        try:
            number = float(value)
        except (TypeError, ValueError):
            return str(value)
        return int(number) if number.is_integer() else number
    return value if isinstance(value, (str, int, float)) else str(value)


def display_value(column: Column, submission: FormPageSubmission) -> Any:
    """For the admin listing: like ``format_value``, with links to the photos."""
    value = submission.answers.get(column.key)
    if column.field_type == "photo" and isinstance(value, list) and value:
        links: SafeString = format_html_join(
            " ",
            '<a href="{}" target="_blank" rel="noopener">写真{}</a>',
            ((photo_url(submission, column.key, i), i + 1) for i in range(len(value))),
        )
        return format_html("{}", links)
    return format_value(column, value)


def export_value(column: Column, submission: FormPageSubmission) -> Any:
    """For spreadsheets: like ``format_value``, photos as staff URLs (one per line)."""
    value = submission.answers.get(column.key)
    if column.field_type == "photo" and isinstance(value, list) and value:
        return "\n".join(photo_url(submission, column.key, i, absolute=True) for i in range(len(value)))
    return format_value(column, value)
