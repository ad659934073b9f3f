"""Japanese text analysis for the search index: SudachiPy morphemes turned into index terms.

One analysis serves both sides, so a document and a resident's question meet on the same terms:

- The text is normalised first (NFKC, so full-width letters and half-width katakana become
  ordinary ones, then lower case) and analysed in split mode C (long units: 粗大ごみ, 住民票).
- A long unit that splits further in mode A also yields its short units (粗大ごみ → 粗大, ごみ;
  住民票 → 住民, 票), so 「ごみ」 finds 「粗大ごみ」 and a compound the analyser segments
  differently in another sentence still meets on its parts.
- Terms: the surface for nouns (incl. proper nouns and numerals), 形状詞 and alphanumerics; the
  dictionary form for verbs and adjectives (教え → 教える, 出し → 出す). Particles, auxiliaries,
  symbols, pronouns, affixes, interjections, conjunctions and adnominals carry no topic and are
  dropped, and so are the words of ``STOP_WORDS`` and lone kana.
- Each term is folded from katakana to hiragana, so ゴミ/ごみ and クマ/くま are one term, and a
  long unit spelt differently from Sudachi's normalised form also yields that form (申込み and
  申込 also give 申し込み; 子ども and こども give 子供; 問合せ gives 問い合わせ).

The dictionary (sudachidict-core) is loaded lazily once per process; a Sudachi tokenizer is not
thread-safe, so each thread gets its own.
"""

from __future__ import annotations

import os
import re
import threading
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

# Parts of speech (Sudachi's first level) whose words are index terms.
KEPT_POS = frozenset({"名詞", "動詞", "形容詞", "形状詞"})
# Parts of speech whose term is the dictionary form (教え → 教える); the others keep the surface.
INFLECTING_POS = frozenset({"動詞", "形容詞"})

# Words that carry no topic in a question or a notice: 「…を教えてください」「…の方法は？」
# 「…したい時はどうすればいいですか」. Listed after folding (hiragana, lower case).
STOP_WORDS = frozenset(
    {
        # verbs and adjectives of asking, wanting and being
        "する",
        "ある",
        "いる",
        "なる",
        "できる",
        "おる",
        "いう",
        "言う",
        "教える",
        "知る",
        "わかる",
        "分かる",
        "思う",
        "下さる",
        "くださる",
        "ください",
        "下さい",
        "いただく",
        "頂く",
        "もらう",
        "ほしい",
        "欲しい",
        "いい",
        "よい",
        "良い",
        "ない",
        "無い",
        # nouns (and 形状詞) that only frame the question
        "方法",
        "仕方",
        "やり方",
        "こと",
        "事",
        "もの",
        "物",
        "ため",
        "為",
        "場合",
        "とき",
        "時",
        "ところ",
        "方",
        "何",
        "なに",
        "なん",
        "どこ",
        "いつ",
        "どう",
        "どれ",
        "よう",
        "様",
        "そう",
        "みたい",
        "等",
        "お願い",
    }
)

# Sudachi refuses inputs over 49,149 bytes; 4,000 characters are at most 16,000 bytes of UTF-8.
MAX_CHUNK = 4000
_SENTENCE_END = re.compile(r"(?<=[。．！？!?\n])")
_ALNUM = re.compile(r"[0-9a-z]+")
_KANA_ONLY = re.compile(r"[ぁ-ゖゝゞー]+")

_KATAKANA_TO_HIRAGANA = {code: code - 0x60 for code in range(ord("ァ"), ord("ヶ") + 1)}
_KATAKANA_TO_HIRAGANA.update({ord("ヽ"): ord("ゝ"), ord("ヾ"): ord("ゞ")})


def fold(term: str) -> str:
    """Katakana to hiragana (ゴミ → ごみ), character for character; other characters unchanged."""
    return term.translate(_KATAKANA_TO_HIRAGANA)


def normalise(text: str) -> str:
    """NFKC and lower case: the text the analyser sees (ｺﾞﾐ → ゴミ, ＷｉＦｉ → wifi)."""
    return unicodedata.normalize("NFKC", text).lower()


@dataclass(frozen=True, slots=True)
class Word:
    """One long unit of the text as index terms: its own term, the short units it splits into and
    its spelling variant (Sudachi's normalised form, when it differs)."""

    term: str
    parts: tuple[str, ...] = ()
    variant: str | None = None


# --- the analyser -------------------------------------------------------------------------------

_lock = threading.Lock()
_dictionary: Any = None
_dictionary_pid: int | None = None
_local = threading.local()


def _get_dictionary() -> Any:
    """The Sudachi dictionary, loaded once per process (again in a forked child)."""
    global _dictionary, _dictionary_pid
    pid = os.getpid()
    if _dictionary is None or _dictionary_pid != pid:
        with _lock:
            if _dictionary is None or _dictionary_pid != pid:
                from sudachipy import Dictionary

                _dictionary = Dictionary()
                _dictionary_pid = pid
    return _dictionary


def _tokenizer() -> Any:
    """This thread's mode-C tokenizer (a tokenizer must not be shared between threads)."""
    dictionary = _get_dictionary()
    cached = getattr(_local, "tokenizer", None)
    if cached is None or cached[0] is not dictionary:
        from sudachipy import SplitMode

        cached = (dictionary, dictionary.tokenizer(SplitMode.C))
        _local.tokenizer = cached
    return cached[1]


def _chunks(text: str) -> Iterator[str]:
    """Pieces of at most MAX_CHUNK characters, cut after sentence ends where possible."""
    if len(text) <= MAX_CHUNK:
        yield text
        return
    piece = ""
    for sentence in _SENTENCE_END.split(text):
        while len(sentence) > MAX_CHUNK:
            if piece:
                yield piece
                piece = ""
            yield sentence[:MAX_CHUNK]
            sentence = sentence[MAX_CHUNK:]
        if len(piece) + len(sentence) > MAX_CHUNK:
            yield piece
            piece = ""
        piece += sentence
    if piece:
        yield piece


def _keep(term: str) -> bool:
    return (
        term not in STOP_WORDS
        and not (len(term) == 1 and _KANA_ONLY.fullmatch(term))
        and any(char.isalnum() for char in term)
    )


def _terms(morpheme: Any) -> tuple[str, str | None] | None:
    """(term, spelling variant or None) of one morpheme, or None when it carries no topic.

    The variant is Sudachi's normalised form when it differs (申込み → 申し込み, 子ども → 子供,
    問合せ → 問い合わせ), so differently spelt words meet; a stop word in either form is dropped.
    """
    pos = morpheme.part_of_speech()[0]
    surface = morpheme.surface().strip()
    if not surface:
        return None
    if pos in KEPT_POS:
        term = morpheme.dictionary_form().lower() if pos in INFLECTING_POS else surface
    elif _ALNUM.fullmatch(surface):
        term = surface
    else:
        return None
    term = fold(term)
    variant: str | None = fold(morpheme.normalized_form().lower().replace(" ", ""))
    if variant == term or not variant or _ALNUM.fullmatch(term):
        variant = None  # ASCII stays as written (Sudachi would spell "test" as テスト)
    if not _keep(term) or (variant is not None and variant in STOP_WORDS):
        return None
    if variant is not None and not _keep(variant):
        variant = None
    return term, variant


def _analyse(text: str) -> Iterator[tuple[Word | None, Any]]:
    """(word or None, morpheme) for every mode-C morpheme of the normalised text."""
    from sudachipy import SplitMode

    tokenizer = _tokenizer()
    for chunk in _chunks(text):
        if not chunk.strip():
            continue
        for morpheme in tokenizer.tokenize(chunk):
            terms = _terms(morpheme)
            term, variant = terms if terms else (None, None)
            split = morpheme.split(SplitMode.A)
            parts: list[str] = []
            if len(split) > 1:
                for sub in split:
                    for part in _terms(sub) or ():
                        if part and part not in (term, variant) and part not in parts:
                            parts.append(part)
            if term:
                yield Word(term, tuple(parts), variant), morpheme
            elif parts:
                # The long unit carries no topic of its own but its short units do.
                for part in parts:
                    yield Word(part), morpheme
            else:
                yield None, morpheme


def analyse(text: str) -> list[Word]:
    """The words of ``text`` in order (a long unit with its short units)."""
    if not text or not text.strip():
        return []
    return [word for word, _ in _analyse(normalise(text)) if word is not None]


def tokens(text: str) -> list[str]:
    """The index terms of ``text`` in order, repeated as often as they occur (for term frequencies).

    >>> tokens("粗大ごみの出し方を教えて")
    ['粗大ごみ', '粗大塵', '粗大', 'ごみ', '出し方', '出す']
    """
    result: list[str] = []
    for word in analyse(text):
        result.append(word.term)
        if word.variant:
            result.append(word.variant)
        result.extend(word.parts)
    return result


# A question is analysed exactly like a document.
query_tokens = tokens


def autocomplete_analysis(text: str) -> tuple[list[Word], list[str], bool]:
    """The words of a partly typed query, the prefixes its end may continue, and whether the
    last word comes from the last (possibly unfinished) morpheme.

    The prefixes are the last whitespace-separated piece (「粗大ご」, which the analyser cuts into
    粗大 + ご) and the surface of the last morpheme (「…の出し」 → 出し), folded like terms; a
    prefix of one kana is too short to mean anything and is left out.
    """
    normalised = normalise(text).strip()
    if not normalised:
        return [], [], False
    words: list[Word] = []
    last_morpheme: Any = None
    last_word_morpheme: Any = None
    for word, morpheme in _analyse(normalised):
        if morpheme.part_of_speech()[0] not in {"空白", "補助記号"}:
            last_morpheme = morpheme
        if word is not None:
            words.append(word)
            last_word_morpheme = morpheme
    prefixes: list[str] = []
    candidates = [normalised.split()[-1]]
    if last_morpheme is not None:
        candidates.append(last_morpheme.surface())
    for candidate in candidates:
        prefix = fold(candidate.strip())
        if not prefix or (len(prefix) == 1 and _KANA_ONLY.fullmatch(prefix)):
            continue
        if prefix not in prefixes:
            prefixes.append(prefix)
    last_is_word = last_morpheme is not None and last_word_morpheme is last_morpheme
    return words, prefixes, last_is_word


def warm_up() -> None:
    """Load the dictionary now (a server may call it at start so the first search is not slow)."""
    tokens("準備")
