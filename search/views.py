"""The public site search (``/search/?query=…``) on the Japanese search backend."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe
from wagtail.models import Page

from search.backend import document_texts
from search.japanese import fold, tokens

PER_PAGE = 10
MAX_QUERY_LENGTH = 255  # what Wagtail's own search views accept
EXCERPT_LENGTH = 120
# Fields that commonly hold a page's text when its search_fields do not name them.
TEXT_FIELDS = ("lead", "intro", "body")


@dataclass
class Hit:
    page: Page
    excerpt: SafeString


def search(request: HttpRequest) -> HttpResponse:
    """Published, public pages of the site that match the query, best first, 10 per page."""
    query = request.GET.get("query", "").strip()[:MAX_QUERY_LENGTH]
    results: Any = Page.objects.live().public().specific().search(query) if query else []
    paginator = Paginator(results, PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    hits = [Hit(result, excerpt(result, query)) for result in page]
    return TemplateResponse(
        request,
        "search/search.html",
        {"search_query": query, "search_results": page, "hits": hits, "paginator": paginator},
    )


def page_text(page: Page) -> str:
    """A page's readable text: its description, its searched fields and its usual text fields."""
    texts: list[str] = [page.search_description or "", *document_texts(page)[1]]
    for name in TEXT_FIELDS:
        try:
            model_field = page._meta.get_field(name)
        except FieldDoesNotExist:
            continue
        value = model_field.value_from_object(page)
        if hasattr(model_field, "get_searchable_content"):
            texts.extend(str(item) for item in model_field.get_searchable_content(value))
        elif value:
            texts.append(str(value))
    unique = [text for text in dict.fromkeys(" ".join(t.split()) for t in texts) if text]
    return " ".join(unique)


def _fold_same_length(text: str) -> str:
    """Lower case and katakana → hiragana, keeping every character's position."""
    return fold("".join(lower if len(lower := char.lower()) == 1 else char for char in text))


def excerpt(page: Page, query: str, length: int = EXCERPT_LENGTH) -> SafeString:
    """About ``length`` characters of the page's text around the first query term, terms marked."""
    text = page_text(page)
    if not text:
        return mark_safe("")
    terms = sorted(
        {term for term in tokens(query) if len(term) > 1 or not term.isascii()}, key=len, reverse=True
    )
    folded = _fold_same_length(text)
    first = min((pos for term in terms if (pos := folded.find(term)) >= 0), default=0)
    start = max(0, first - length // 4)
    end = min(len(text), start + length)
    pattern = re.compile("|".join(re.escape(term) for term in terms)) if terms else None
    pieces: list[str] = ["…" if start > 0 else ""]
    position = start
    if pattern is not None:
        for match in pattern.finditer(folded, start, end):
            pieces.append(conditional_escape(text[position : match.start()]))
            pieces.append(format_html("<mark>{}</mark>", text[match.start() : match.end()]))
            position = match.end()
    pieces.append(conditional_escape(text[position:end]))
    pieces.append("…" if end < len(text) else "")
    return mark_safe("".join(pieces))  # noqa: S308 - every piece is escaped above
