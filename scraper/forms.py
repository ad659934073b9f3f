"""The 取り込み設定 form: the parent page is a plain list of the pages answers may go under (Wagtail's
page chooser starts with an inline script, which our Content-Security-Policy does not run)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet
from wagtail.admin.forms import WagtailAdminModelForm
from wagtail.models import Page

from chatbot.models import AnswerPage
from scraper.models import ScrapedPage


def parent_choices() -> QuerySet[Page]:
    """Pages an answer may be made under, in tree order, without the answers made by the scraper."""
    made = ScrapedPage.objects.filter(page__isnull=False).values("page_id")
    return (
        Page.objects.type(*AnswerPage.allowed_parent_page_models())
        .filter(depth__gte=2)
        .exclude(pk__in=made)
        .order_by("path")
    )


class ParentPageField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        indent = "　" * max(0, obj.depth - 2)  # full-width spaces: the tree's levels
        return f"{indent}{obj.title}"


class ScrapeSourceForm(WagtailAdminModelForm):
    parent_page = ParentPageField(
        queryset=Page.objects.none(),
        required=False,
        label="取り込み先のページ",
        empty_label="（自動: トップページの下に「ホームページ」を作る）",
        help_text="回答ページを作る場所。トップページ、標準ページ、チャットボットの回答から選びます。",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["parent_page"]
        assert isinstance(field, ParentPageField)
        field.queryset = parent_choices()
