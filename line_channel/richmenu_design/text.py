"""Fitting Japanese labels into a width: shrink the font, else wrap into two lines, else shorten.

Japanese may break between almost any two characters; we prefer breaking after
「・」「、」 or a space, then after a particle, avoid splitting a kanji compound or a
katakana or Latin word, and keep the line-start rules (kinsoku: no 「ー」「ッ」「）」…
at the start of a line).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from .fonts import load_font

ELLIPSIS = "…"
LINE_HEIGHT = 1.25  # line pitch, in font sizes
ONE_LINE_SHRINK = 0.8  # one line down to this share of the largest size before wrapping is tried
GOOD_BREAK_SHRINK = 0.55  # then two lines broken between words down to this share
_NO_LINE_START = set("ー・、。，．）」』】〕！？!?)ぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶ々")
_NO_LINE_END = set("（「『【〔(")
_PREFERRED_AFTER = set("・、 　/／")
_PARTICLES = set("のをはにでへとがも")


@dataclass(frozen=True)
class FittedText:
    size: int  # font size in pixels
    lines: tuple[str, ...]

    @property
    def line_height(self) -> int:
        return round(self.size * LINE_HEIGHT)

    @property
    def height(self) -> int:
        return self.line_height * len(self.lines)


def text_width(text: str, size: int) -> float:
    return load_font(size).getlength(text)


def _script(char: str) -> str:
    if "\u3040" <= char <= "\u309f":
        return "hiragana"
    if "\u30a0" <= char <= "\u30ff":
        return "katakana"
    if "\u4e00" <= char <= "\u9fff" or char in "々〆":
        return "kanji"
    if char.isascii() and char.isalnum():
        return "latin"
    if unicodedata.category(char).startswith("N"):
        return "digit"
    return "other"


# Scores of a break between two scripts (lower is better): after a particle (hiragana) before
# a content word is a natural phrase boundary; inside a kanji compound, a katakana word or
# between a kanji and its okurigana is not.
_SCRIPT_BREAK = {
    ("hiragana", "kanji"): 0.85,
    ("hiragana", "katakana"): 0.85,
    ("kanji", "katakana"): 0.9,
    ("katakana", "kanji"): 0.9,
    ("hiragana", "hiragana"): 1.1,
    ("kanji", "kanji"): 1.2,
    ("kanji", "hiragana"): 1.2,
    ("katakana", "hiragana"): 1.2,
}
GOOD_BREAK = 0.9  # scores up to this count as breaks between words


def _break_score(text: str, index: int) -> float | None:
    """How good a break before ``text[index]`` is (lower is better); None: not allowed."""
    before, after = text[index - 1], text[index]
    if after in _NO_LINE_START or before in _NO_LINE_END:
        return None
    if before in _PREFERRED_AFTER or after in _NO_LINE_END:
        score = 0.6
    elif (before in _PARTICLES and _script(after) != "hiragana") or (after in "おご" and index > 1):
        score = 0.85  # after a particle (の, を …) or before the polite prefix of お知らせ, ご案内
    elif before in "おご" and _script(after) == "kanji":
        score = 1.2  # the polite prefix stays with its word
    elif _script(before) == _script(after) and _script(before) in {"katakana", "latin", "digit"}:
        score = 1.5  # inside a katakana, Latin or number word
    else:
        score = _SCRIPT_BREAK.get((_script(before), _script(after)), 1.0)
    if min(index, len(text.strip()) - index) <= 1:
        score += 0.5  # a line of a single character looks lost
    return score


def _splits(text: str) -> list[tuple[float, str, str]]:
    """(score, first line, second line) for every allowed break."""
    splits = []
    for index in range(1, len(text)):
        score = _break_score(text, index)
        if score is not None:
            first, second = text[:index].rstrip(" 　"), text[index:].lstrip(" 　")
            if first and second:
                splits.append((score, first, second))
    return splits


def _shorten(text: str, size: int, max_width: float) -> str:
    if text_width(text, size) <= max_width:
        return text
    while text and text_width(text + ELLIPSIS, size) > max_width:
        text = text[:-1]
    return text + ELLIPSIS


def fit_text(
    text: str, *, max_width: float, max_size: int, min_size: int, max_lines: int = 2, step: int = 2
) -> FittedText:
    """The largest font size (and line breaks) at which ``text`` fits ``max_width``.

    One line is kept while the size stays above ``ONE_LINE_SHRINK`` × ``max_size``;
    then (when ``max_lines`` allows) one line or two broken between words down to
    ``GOOD_BREAK_SHRINK`` × ``max_size``, then two lines broken anywhere allowed
    down to ``min_size``; at ``min_size`` whatever still does not fit is
    shortened with 「…」.
    """
    text = " ".join(text.split())
    min_size = min(min_size, max_size)
    sizes = list(range(max_size, min_size - 1, -step))
    if sizes[-1] != min_size:
        sizes.append(min_size)
    if not text:
        return FittedText(max_size, ())
    for size in sizes:
        if size < max_size * ONE_LINE_SHRINK and max_lines > 1:
            break
        if text_width(text, size) <= max_width:
            return FittedText(size, (text,))
    if max_lines >= 2:
        # One line or two broken between words while the size stays above
        # GOOD_BREAK_SHRINK × max_size; then one line or two broken anywhere allowed.
        for worst_break, floor in ((GOOD_BREAK, max_size * GOOD_BREAK_SHRINK), (float("inf"), 0)):
            for size in sizes:
                if size < floor:
                    break
                if text_width(text, size) <= max_width:
                    return FittedText(size, (text,))
                fitting = [
                    (score * max(text_width(a, size), text_width(b, size)), a, b)
                    for score, a, b in _splits(text)
                    if score <= worst_break
                    and text_width(a, size) <= max_width
                    and text_width(b, size) <= max_width
                ]
                if fitting:
                    _, first, second = min(fitting)
                    return FittedText(size, (first, second))
    else:
        for size in sizes:
            if text_width(text, size) <= max_width:
                return FittedText(size, (text,))
    if max_lines < 2 or len(text) < 2:
        return FittedText(min_size, (_shorten(text, min_size, max_width),))
    # Still too long at the smallest size: fill the first line, shorten the second.
    first = text
    while len(first) > 1 and text_width(first, min_size) > max_width:
        first = first[:-1]
    second = text[len(first) :].lstrip(" 　")
    return FittedText(min_size, (first, _shorten(second, min_size, max_width)))
