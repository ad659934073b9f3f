"""The admin dashboard's 受信設定 panel: how many residents registered, per choice and per age band.

Counting never decrypts an answer: every token the current form can produce
(``token_for`` of each choice code, ``birth_year_token`` of each plausible birth
year) is computed here, the blind index is counted in one grouped query, and
the tokens are mapped back to the choices' current labels and to age bands.
With the number of registered residents that is two queries, however many
residents, fields or choices there are (plus the hook's look-up of the page).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.core.cache import cache
from django.db.models import Count
from django.utils import timezone
from wagtail.admin.ui.components import Component

from home.forms.blocks import CHOICE_TYPES, FieldSpec
from home.forms.fields import AGE_BANDS, MAX_AGE, age_band
from residents.attributes import REGISTERED, birth_year_token, token_for
from residents.models import AttributeFormPage, AttributeToken

BIRTH_YEAR = "birth_year"
UNANSWERED_LABEL = "未回答"
# Birth years counted: the form offers MAX_AGE years back, and residents who registered years ago keep
# their answer, so look further back (older years all fall in the last age band anyway).
YEARS_BACK = MAX_AGE + 40

KIND_LABELS = {"choice": "1つ選択", "choices": "複数選択", BIRTH_YEAR: "年代別"}


@dataclass(frozen=True)
class Row:
    label: str
    count: int
    percent: int  # of the registered residents, rounded

    @property
    def count_text(self) -> str:
        return f"{self.count:,}"


@dataclass(frozen=True)
class Item:
    """One field of the form with its counts (per choice label, or per age band)."""

    key: str
    label: str
    kind: str  # "choice", "choices" or "birth_year"
    rows: list[Row]

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.kind, "")

    @property
    def row_heading(self) -> str:
        return "年代" if self.kind == BIRTH_YEAR else "選択肢"


@dataclass(frozen=True)
class Distribution:
    registered: int
    items: list[Item]
    today: date

    @property
    def registered_text(self) -> str:
        return f"{self.registered:,}"


def countable_fields(page: AttributeFormPage) -> list[FieldSpec]:
    """The form's current fields the blind index covers: single and multiple choice, birth year."""
    return [
        spec
        for spec in page.get_form_fields()
        if spec.field_type in CHOICE_TYPES or spec.field_type == BIRTH_YEAR
    ]


def registered_count() -> int:
    """Residents with registered attributes: those indexed under ``REGISTERED`` (one entry each).

    ``delete_attributes`` keeps an empty row but removes its entries, so such residents are not
    counted.
    """
    return AttributeToken.objects.filter(token=REGISTERED).count()


def _percent(count: int, total: int) -> int:
    return round(count * 100 / total) if total else 0


def distribution(page: AttributeFormPage, *, today: date | None = None) -> Distribution:
    """Counts per choice label and per age band (at ``today``, by default today in the site's time zone)."""
    today = today or timezone.localdate()
    specs = countable_fields(page)
    registered = registered_count() if specs else 0
    # token -> (field key, choice code or age band)
    wanted: dict[str, tuple[str, str]] = {}
    for spec in specs:
        if spec.field_type == BIRTH_YEAR:
            for year in range(today.year - YEARS_BACK, today.year + 1):
                wanted[birth_year_token(spec.clean_name, year)] = (spec.clean_name, age_band(year, today))
        else:
            for code, _label in spec.choices:
                wanted[token_for(spec.clean_name, code)] = (spec.clean_name, code)
    counts: dict[tuple[str, str], int] = {}
    if registered:
        grouped = (
            AttributeToken.objects.filter(token__in=list(wanted))
            .values("token")
            .annotate(n=Count("id"))
            .values_list("token", "n")
        )
        for token, n in grouped:
            counts[wanted[token]] = counts.get(wanted[token], 0) + n

    items = []
    for spec in specs:
        if spec.field_type == BIRTH_YEAR:
            labelled = [(band, counts.get((spec.clean_name, band), 0)) for band in AGE_BANDS]
        else:
            labelled = [(label, counts.get((spec.clean_name, code), 0)) for code, label in spec.choices]
        rows = [Row(label, n, _percent(n, registered)) for label, n in labelled]
        if spec.field_type != "choices":  # one answer per resident: the rest did not answer
            unanswered = max(registered - sum(n for _label, n in labelled), 0)
            if unanswered:
                rows.append(Row(UNANSWERED_LABEL, unanswered, _percent(unanswered, registered)))
        items.append(Item(spec.clean_name, spec.label, spec.field_type, rows))
    return Distribution(registered=registered, items=items, today=today)


CACHE_SECONDS = 300


def cached_distribution(page: AttributeFormPage) -> Distribution:
    """``distribution`` kept for a few minutes: with a million residents its counts scan millions of
    index rows, and every member of staff opens the dashboard. A newly published form (its
    revision) or a new day counts afresh."""
    key = f"residents:distribution:{page.pk}:{page.live_revision_id}:{timezone.localdate().isoformat()}"
    result = cache.get_or_set(key, lambda: distribution(page), CACHE_SECONDS)
    return result if isinstance(result, Distribution) else distribution(page)


class AttributeDistributionPanel(Component):
    """The dashboard panel 「受信設定の登録状況」 (aggregates only, so every admin user may see it)."""

    name = "resident_attribute_distribution"
    template_name = "residents/dashboard_panel.html"
    order = 230  # after the workflow panels, before 最近の編集

    class Media:
        css = {"all": ["residents/dashboard.css"]}

    def __init__(self, page: AttributeFormPage | None) -> None:
        self.page = page

    def get_context_data(self, parent_context: Mapping[str, Any] | None = None) -> dict[str, Any]:
        if self.page is None:
            return {"page": None, "distribution": None}
        return {"page": self.page, "distribution": cached_distribution(self.page)}


def dashboard_panel() -> AttributeDistributionPanel | None:
    """The panel for the site's 受信設定 form, or None when there is no such form."""
    page = AttributeFormPage.objects.first()
    return None if page is None else AttributeDistributionPanel(page)
