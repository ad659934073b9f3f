"""Search over the manual's text, by heading section.

Matching ignores case and the difference between full-width and half-width
characters (``ＣＳＶ`` finds ``CSV``). Several words separated by spaces must
all occur in the same section.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from kairan.manual.pages import ManualPage, Section, all_pages

SNIPPET_BEFORE = 40
SNIPPET_AFTER = 80
MAX_RESULTS = 50


@dataclass(frozen=True)
class Result:
    page: ManualPage
    section: Section
    snippet: SafeString


def _fold(text: str) -> tuple[str, list[int]]:
    """Normalise ``text`` for matching, with the original index of every folded character."""
    folded: list[str] = []
    positions: list[int] = []
    for index, char in enumerate(text):
        for out in unicodedata.normalize("NFKC", char).casefold():
            folded.append(out)
            positions.append(index)
    return "".join(folded), positions


def terms_of(query: str) -> list[str]:
    """The distinct search words of ``query`` (full-width spaces separate words too)."""
    terms: list[str] = []
    for word in _fold(query)[0].split():
        if word not in terms:
            terms.append(word)
    return terms


def _contains_all(text: str, terms: list[str]) -> bool:
    folded = _fold(text)[0]
    return all(term in folded for term in terms)


def _spans(text: str, terms: list[str]) -> list[tuple[int, int]]:
    """(start, end) of every occurrence of every term in ``text``, as indices of the original text."""
    folded, positions = _fold(text)
    spans: list[tuple[int, int]] = []
    for term in terms:
        start = folded.find(term)
        while start >= 0:
            end = start + len(term)
            spans.append((positions[start], positions[end - 1] + 1))
            start = folded.find(term, end)
    return sorted(spans)


def _snippet(text: str, spans: list[tuple[int, int]]) -> SafeString:
    """A short extract around the first match, every match wrapped in <mark>."""
    first = spans[0][0] if spans else 0
    start = max(0, first - SNIPPET_BEFORE)
    end = min(len(text), first + SNIPPET_AFTER)
    parts = ["…" if start > 0 else ""]
    cursor = start
    for span_start, span_end in spans:
        if span_start < cursor or span_start >= end:
            continue
        parts.append(escape(text[cursor:span_start]))
        parts.append(f"<mark>{escape(text[span_start:span_end])}</mark>")
        cursor = span_end
    parts.append(escape(text[cursor:end]) if cursor < end else "")
    parts.append("…" if end < len(text) else "")
    return mark_safe("".join(parts))  # noqa: S308 - every piece of text is escaped above


def search(query: str, pages: list[ManualPage] | None = None) -> list[Result]:
    """Sections whose heading or text contains every word of ``query``, in manual order."""
    terms = terms_of(query)
    if not terms:
        return []
    results: list[Result] = []
    for page in all_pages() if pages is None else pages:
        for section in page.sections:
            if not _contains_all(f"{section.title}\n{section.text}", terms):
                continue
            text = section.text or section.title
            results.append(Result(page=page, section=section, snippet=_snippet(text, _spans(text, terms))))
            if len(results) >= MAX_RESULTS:
                return results
    return results
