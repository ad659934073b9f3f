"""Keywords of answer pages: a resident's message that is (or contains) a keyword starts that page.

Texts are compared in a normal form (NFKC, lower case, katakana as hiragana, no spaces or closing
punctuation), so 「ゴミ」, 「ごみ」 and 「ごみ！」 are one keyword. The table of live pages' keywords is
part of the chatbot's content held by each process (``chatbot.content``), reloaded when pages are
published, unpublished, moved or deleted.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

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


class KeywordTable:
    """The live pages' keywords: exact ones by their normal form, contained ones best first."""

    def __init__(self, words: list[Keyword]) -> None:
        words = sorted(words, key=lambda word: (-word.priority, -len(word.text), word.page_id))
        self.exact: dict[str, int] = {}
        for word in words:
            if word.text and not word.contains:
                self.exact.setdefault(word.text, word.page_id)
        self.contains = [word for word in words if word.text and word.contains]

    @classmethod
    def load(cls) -> KeywordTable:
        from chatbot.models import AnswerKeyword

        rows = AnswerKeyword.objects.filter(page__live=True).values_list(
            "text", "match", "priority", "page_id"
        )
        return cls(
            [
                Keyword(normalise(text), match == "contains", priority, page_id)
                for text, match, priority, page_id in rows
            ]
        )

    def match(self, text: str) -> int | None:
        """The page a message starts by keyword: an exact keyword first, then the contained keyword
        with the highest priority (the longest on a tie)."""
        said = normalise(text)
        if not said:
            return None
        if said in self.exact:
            return self.exact[said]
        return next((word.page_id for word in self.contains if word.text in said), None)
