"""Keywords of answer pages: a resident's message that is (or contains) a keyword starts that page.

Texts are compared in a normal form (NFKC, lower case, katakana as hiragana, no spaces or closing
punctuation), so 「ゴミ」, 「ごみ」 and 「ごみ！」 are one keyword. The table of live pages' keywords
is kept per process and reloaded when a page is published, unpublished, moved or deleted (a
version number in the shared cache), so several web and cluster processes agree.
"""

from __future__ import annotations

import re
import threading
import unicodedata
import uuid
from dataclasses import dataclass

from django.core.cache import cache

VERSION_KEY = "chatbot:keywords:version"
_PUNCTUATION = re.compile(r"[\s。、．，,.!！?？~〜ー・「」『』（）()]+$|^\s+|\s+")
_KATAKANA = {code: code - 0x60 for code in range(0x30A1, 0x30F7)}


def normalise(text: str) -> str:
    """The form texts are compared in (keywords, choice labels, unanswered questions)."""
    text = unicodedata.normalize("NFKC", text or "").lower().translate(_KATAKANA)
    return _PUNCTUATION.sub("", text)


@dataclass(frozen=True)
class Keyword:
    text: str
    contains: bool
    priority: int
    page_id: int


@dataclass
class _Table:
    version: str | None = None
    exact: dict[str, int] | None = None
    contains: list[Keyword] | None = None


_table = _Table()
_lock = threading.Lock()


def changed() -> None:
    """Tell every process that the keywords (or the pages they lead to) changed."""
    cache.set(VERSION_KEY, uuid.uuid4().hex, None)  # (not a counter: a rolled-back one repeats)


def _load(version: str | None) -> None:
    from chatbot.models import AnswerKeyword

    rows = AnswerKeyword.objects.filter(page__live=True).values_list("text", "match", "priority", "page_id")
    words = sorted(
        (
            Keyword(normalise(text), match == "contains", priority, page_id)
            for text, match, priority, page_id in rows
        ),
        key=lambda word: (-word.priority, -len(word.text), word.page_id),
    )
    exact: dict[str, int] = {}
    for word in words:
        if word.text and not word.contains:
            exact.setdefault(word.text, word.page_id)
    _table.exact = exact
    _table.contains = [word for word in words if word.text and word.contains]
    _table.version = version


def match(text: str) -> int | None:
    """The page a message starts by keyword: an exact keyword first, then the contained keyword
    with the highest priority (the longest on a tie)."""
    version = cache.get(VERSION_KEY)
    if version is None:  # (a cleared cache: start a new version, so no process keeps an old table)
        cache.add(VERSION_KEY, uuid.uuid4().hex, None)
        version = cache.get(VERSION_KEY)
    with _lock:
        if _table.exact is None or _table.version != version:
            _load(version)
        exact, contains = _table.exact or {}, _table.contains or []
    said = normalise(text)
    if not said:
        return None
    if said in exact:
        return exact[said]
    return next((word.page_id for word in contains if word.text in said), None)
