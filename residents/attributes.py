"""Reading residents' attributes in one place, and the blind index that segments query.

Later features (the segment selector) read attributes only through
``attributes_of`` and ``token_for``; they never need to know how the form
stores its answers.

Blind index: for every choice code a resident selected, ``AttributeToken``
holds ``HMAC-SHA256(index key, "<field key>=<code>")``, and for the birth year
``HMAC-SHA256(index key, "<field key>=year:<year>")``. A segment query computes
the same tokens with ``token_for`` and filters on them, so the database never
holds a district, a topic or a birth year in clear. The index key is the
``KAIRAN_INDEX_KEY`` setting when set, otherwise derived from ``SECRET_KEY``
with its own label (so it is never the key of any other HMAC). Changing either
makes every token stale: run ``reindex_all()`` afterwards. The index does not
hide how many residents share a value (equal tokens are visible), only which
value that is.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.conf import settings

from home.forms import fields as form_fields
from home.forms.blocks import CHOICE_TYPES
from home.forms.models import line_user_hash

INDEX_LABEL = b"kairan.residents.attribute_index"
# The entry every resident with answers has: the universe of segments (no HMAC: that a resident
# registered is no secret of theirs; the row itself says it).
REGISTERED = "registered"


def index_key() -> bytes:
    """The blind-index key: ``KAIRAN_INDEX_KEY``, or an HMAC of a fixed label under ``SECRET_KEY``."""
    configured = str(settings.KAIRAN_INDEX_KEY or "")
    if configured:
        return configured.encode("utf-8")
    return hmac.new(settings.SECRET_KEY.encode("utf-8"), INDEX_LABEL, hashlib.sha256).digest()


def _token(text: str) -> str:
    return hmac.new(index_key(), text.encode("utf-8"), hashlib.sha256).hexdigest()


def token_number(token: str) -> int:
    """A token as a signed 64-bit number (its first 16 hex digits), for ``AudienceEntry.tokens``."""
    value = int(token[:16], 16)
    return value - (1 << 64) if value >= (1 << 63) else value


def token_for(field_key: str, code: str) -> str:
    """The token of residents who selected ``code`` in the choice field ``field_key``."""
    return _token(f"{field_key}={code}")


def birth_year_token(field_key: str, year: int) -> str:
    """The token of residents born in ``year`` (answered in the birth-year field ``field_key``)."""
    return _token(f"{field_key}=year:{year}")


def attribute_field_types() -> dict[str, str]:
    """Field key -> field type of the 受信設定 form: every field it ever published, then its current ones."""
    from home.forms.models import FormFieldHistory
    from residents.models import AttributeFormPage

    page = AttributeFormPage.objects.first()
    if page is None:
        return {}
    types = {h.key: h.field_type for h in FormFieldHistory.objects.filter(page_id=page.pk)}
    for spec in page.get_form_fields():
        types[spec.clean_name] = spec.field_type
    return types


def tokens_for_answers(answers: dict[str, Any], field_types: dict[str, str]) -> set[str]:
    """Every token a resident with these answers is indexed under (``REGISTERED`` when any)."""
    tokens: set[str] = {REGISTERED} if answers else set()
    for key, value in answers.items():
        kind = field_types.get(key)
        if kind in CHOICE_TYPES:
            codes: Iterable[Any] = value if isinstance(value, list) else [value]
            tokens.update(token_for(key, str(code)) for code in codes if code not in (None, ""))
        elif kind == "birth_year" and (year := _year(value)) is not None:
            tokens.add(birth_year_token(key, year))
    return tokens


def _year(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class ResidentAttributeView:
    """A resident's current attributes, read-only: codes by field key, plus typed helpers."""

    answers: dict[str, Any] = field(default_factory=dict)
    field_types: dict[str, str] = field(default_factory=dict)

    @property
    def exists(self) -> bool:
        return bool(self.answers)

    def choice_codes(self, key: str) -> frozenset[str]:
        """The codes selected in a choice field (one or several); empty when not answered."""
        value = self.answers.get(key)
        if value in (None, ""):
            return frozenset()
        return frozenset(str(code) for code in (value if isinstance(value, list) else [value]))

    def birth_year(self) -> int | None:
        """The answer of the form's (first) birth-year field, if any."""
        for key, kind in self.field_types.items():
            if kind == "birth_year" and (year := _year(self.answers.get(key))) is not None:
                return year
        return None

    def age_on(self, on: date) -> int | None:
        """The age reached in ``on``'s year (only the birth year is asked)."""
        year = self.birth_year()
        return None if year is None else form_fields.age_on(year, on)


def attributes_of(line_user_id: str) -> ResidentAttributeView:
    """The resident's current attributes (an empty view when they have none)."""
    from residents.models import ResidentAttributes

    row = ResidentAttributes.objects.filter(line_user_hash=line_user_hash(line_user_id)).first()
    if row is None or row.line_user_id != line_user_id:  # the hash is the lookup, the id the proof
        return ResidentAttributeView()
    return ResidentAttributeView(answers=row.current, field_types=attribute_field_types())


@dataclass(frozen=True)
class AnswerLine:
    """One item of a resident's 受信設定 as people read it."""

    key: str
    label: str
    text: str
    staff_only: bool = False
    retired: bool = False


def describe(answers: dict[str, Any], *, for_staff: bool = False) -> list[AnswerLine]:
    """The answers in the form's order with labels (「お住まいの地区: 盛町」), every current item
    listed (unanswered ones as ""). Residents see their own items; staff also staff-only items
    and answers to items the form no longer has."""
    from home.forms.answers import columns_for_page, format_value
    from residents.models import AttributeFormPage

    page = AttributeFormPage.objects.first()
    if page is None:
        return []
    lines = []
    for column in columns_for_page(page):
        if (column.staff_only or column.retired) and not for_staff:
            continue
        if column.retired and column.key not in answers:
            continue
        value = format_value(column, answers.get(column.key))
        text = f"{value}年" if column.field_type == "birth_year" and value != "" else str(value)
        lines.append(AnswerLine(column.key, column.label, text, column.staff_only, column.retired))
    return lines
