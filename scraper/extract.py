"""What a page of the city's website says: its title, its main text without the site's furniture,
when it was last updated, its links; and the sitemap's URLs.

- Characters: the HTTP charset, else the page's ``<meta charset>``, else what the bytes decode as
  (UTF-8, then Shift_JIS as Windows writes it (cp932), then EUC-JP), through bs4's ``UnicodeDammit``.
- Main text: the first of ``<main>``, ``[role=main]``, ``<article>``, ``#main``, ``#content`` … found,
  else ``<body>``; scripts, styles, forms, navigation, headers, footers, asides, breadcrumbs and menus
  (by element, ARIA role and common class/id names) are removed; block elements become lines.
- Updated: a ``<meta>`` date, else a 「更新日」 written in the page (Western or Japanese era),
  else the HTTP ``Last-Modified`` header (which dynamic sites set to "now", so it comes last).
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, time
from email.utils import parsedate_to_datetime
from typing import Any
from zoneinfo import ZoneInfo

from bs4 import BeautifulSoup, Tag, UnicodeDammit
from bs4.dammit import EncodingDetector
from bs4.element import NavigableString

from scraper.fetch import canonical_url

JAPAN = ZoneInfo("Asia/Tokyo")
FORMAT_VERSION = 1  # part of the content hash: a change in how pages become answers updates them all

# Encodings by their names on Japanese sites → what Python decodes them with.
ENCODING_ALIASES = {
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "ms_kanji": "cp932",
    "csshiftjis": "cp932",
    "windows-31j": "cp932",
    "ms932": "cp932",
    "x-euc-jp": "euc-jp",
}
FALLBACK_ENCODINGS = ["utf-8", "cp932", "euc-jp"]
# Servers' defaults rather than a statement about the page: a <meta> declaration wins over them.
WEAK_HTTP_CHARSETS = {"iso-8859-1", "latin-1", "latin1", "us-ascii", "ascii", "windows-1252"}
SUMMARY_CHARS = 1000

REMOVED_TAGS = (
    "script", "style", "noscript", "template", "iframe", "object", "embed", "svg", "canvas",
    "form", "button", "input", "select", "textarea", "label",
    "nav", "aside", "footer", "dialog", "menu",
)  # fmt: skip
REMOVED_ROLES = {"navigation", "banner", "contentinfo", "complementary", "search", "menu", "menubar"}
MAIN_SELECTORS = (
    "main",
    "[role=main]",
    "article",
    "#main",
    "#content",
    "#main-content",
    "#main_content",
    "#contents",
    "#tmp_contents",
    ".main",
    ".content",
    ".contents",
    ".main-content",
)
# Class or id names of site furniture (matched as whole words of the name, split at - and _).
NOISE_WORDS = {
    "nav", "navi", "navigation", "gnav", "lnav", "snav", "globalnav", "localnav", "menu", "menus",
    "megamenu", "header", "footer", "side", "sidebar", "sidenav", "aside", "breadcrumb",
    "breadcrumbs", "crumb", "crumbs", "topicpath", "pankuzu", "path", "skip", "skiplink", "pagetop",
    "totop", "share", "sns", "social", "banner", "banners", "ad", "ads", "utility", "toolbar", "tools",
    "print", "pager", "pagination", "cookie", "search", "lang", "language", "fontsize", "related",
}  # fmt: skip
BLOCK_TAGS = {
    "address", "article", "blockquote", "dd", "div", "dl", "dt", "figcaption", "figure", "h1", "h2",
    "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "ol", "p", "pre", "section", "table",
    "tbody", "thead", "tfoot", "tr", "ul", "caption", "details", "summary",
}  # fmt: skip
CELL_TAGS = {"td", "th"}
TITLE_SEPARATORS = re.compile(r"\s*(?:[|｜]|\s[-–—]\s|\s/\s|／|::)\s*")
MAX_TITLE = 255
MAX_PHRASINGS = 10

META_DATE_KEYS = (
    ("name", "last-modified"),
    ("http-equiv", "last-modified"),
    ("property", "article:modified_time"),
    ("property", "og:updated_time"),
    ("itemprop", "dateModified"),
    ("name", "dcterms.modified"),
    ("name", "dc.date.modified"),
    ("name", "date"),
    ("name", "dc.date"),
    ("property", "article:published_time"),
)
ERAS = {"令和": 2018, "平成": 1988, "昭和": 1925, "R": 2018, "H": 1988}
_DATE = (
    r"(?:(?P<era>令和|平成|昭和|R|H)\s*(?P<eyear>元|\d{1,2})\s*年"
    r"|(?P<year>\d{4})\s*[年/.\-])\s*(?P<month>\d{1,2})\s*[月/.\-]\s*(?P<day>\d{1,2})"
)
UPDATED_PATTERNS = (
    re.compile(r"(?:最終更新日|更新日時|更新日|最終更新|更新)\s*[:：]?\s*" + _DATE),
    re.compile(r"(?:掲載日|公開日|作成日|登録日)\s*[:：]?\s*" + _DATE),
)


@dataclass
class Extracted:
    """The parts of a page the scraper keeps."""

    title: str
    text: str
    modified: datetime | None = None
    links: list[str] = field(default_factory=list)
    headings: list[str] = field(default_factory=list)
    noindex: bool = False
    nofollow: bool = False


# --- characters ---------------------------------------------------------------------------------


def _python_encoding(name: str | None) -> str | None:
    if not name:
        return None
    name = name.strip().lower()
    return ENCODING_ALIASES.get(name, name)


def decode_html(content: bytes, *, http_charset: str | None = None) -> tuple[str, str]:
    """The page as text and the encoding used: HTTP charset, else ``<meta>``, else detection."""
    known = []
    declared = _python_encoding(EncodingDetector.find_declared_encoding(content, is_html=True))
    from_http = _python_encoding(http_charset)
    if from_http and not (declared and from_http in WEAK_HTTP_CHARSETS):
        known.append(from_http)
    if declared:
        known.append(declared)
    dammit = UnicodeDammit(
        content,
        known_definite_encodings=known,
        user_encodings=FALLBACK_ENCODINGS,
        is_html=True,
    )
    if dammit.unicode_markup is None:  # pragma: no cover - UnicodeDammit falls back to windows-1252
        return content.decode("utf-8", errors="replace"), "utf-8"
    return dammit.unicode_markup, str(dammit.original_encoding or "")


# --- text ---------------------------------------------------------------------------------------


def _clean_space(text: str) -> str:
    text = text.replace("\u3000", " ").replace("\xa0", " ")
    return re.sub(r"[ \t\r\f\v]+", " ", text)


def _noise_words(tag: Tag) -> set[str]:
    names = [str(tag.get("id") or "")]
    classes: Any = tag.get("class") or []
    names += list(classes) if isinstance(classes, list) else [str(classes)]
    words: set[str] = set()
    for name in names:
        lowered = name.lower()
        words.update((lowered, re.sub(r"[-_\s]+", "", lowered)))
        words.update(part for part in re.split(r"[-_\s]+|(?<=[a-z])(?=\d)", lowered) if part)
    return words & NOISE_WORDS


def _is_noise(tag: Tag) -> bool:
    if tag.name in REMOVED_TAGS:
        return True
    if str(tag.get("role") or "").lower() in REMOVED_ROLES:
        return True
    if tag.has_attr("hidden") or str(tag.get("aria-hidden") or "").lower() == "true":
        return True
    if tag.name == "header" and tag.find(["h1", "h2"]) is None:
        return True
    return bool(_noise_words(tag))


def _main(soup: BeautifulSoup) -> Tag:
    for selector in MAIN_SELECTORS:
        found = soup.select_one(selector)
        if found is not None and found.get_text(strip=True):
            return found
    return soup.body or soup


def _remove_noise(root: Tag) -> None:
    for tag in list(root.find_all(True)):
        if tag.decomposed or tag is root:
            continue
        if _is_noise(tag):
            tag.decompose()


def _lines(root: Tag) -> list[str]:
    """The text of ``root`` with one line per block element (inline markup joins without spaces)."""
    parts: list[str] = []

    def walk(node: Tag) -> None:
        for child in node.children:
            if isinstance(child, NavigableString):
                if type(child) is NavigableString:  # not a comment, CDATA or doctype
                    parts.append(str(child))
                continue
            if not isinstance(child, Tag):
                continue
            if child.name == "br":
                parts.append("\n")
            elif child.name == "img":
                continue
            elif child.name in CELL_TAGS:
                parts.append(" ")
                walk(child)
                parts.append(" ")
            elif child.name in BLOCK_TAGS:
                parts.append("\n")
                if child.name == "li":
                    parts.append("・")
                walk(child)
                parts.append("\n")
            else:
                walk(child)

    walk(root)
    lines = [_clean_space(line).strip() for line in "".join(parts).split("\n")]
    return [line for line in lines if line and line != "・"]


def _heading_text(tag: Tag | None) -> str:
    return _clean_space(tag.get_text(" ", strip=True)).strip() if tag is not None else ""


def _title(soup: BeautifulSoup, main: Tag) -> str:
    """The main content's <h1>, else the <title> (or og:title) without the site's name, else any <h1>
    (a header's <h1> is often the city's logo, so it comes last)."""
    if main is not soup.body and main is not soup and (text := _heading_text(main.find("h1"))):
        return text[:MAX_TITLE]
    og = soup.find("meta", attrs={"property": "og:title"})
    for candidate in (
        str(og.get("content") or "") if og is not None else "",
        soup.title.get_text(" ", strip=True) if soup.title is not None else "",
    ):
        if text := _clean_space(candidate).strip():
            return (TITLE_SEPARATORS.split(text)[0] or text)[:MAX_TITLE]
    return _heading_text(soup.find("h1"))[:MAX_TITLE]


def _links(soup: BeautifulSoup, base: str) -> list[str]:
    found: list[str] = []
    seen: set[str] = set()
    for anchor in soup.find_all("a", href=True):
        if "nofollow" in str(anchor.get("rel") or "").lower():
            continue
        url = canonical_url(str(anchor["href"]), base)
        if url and url not in seen:
            seen.add(url)
            found.append(url)
    return found


def _base(soup: BeautifulSoup, url: str) -> str:
    tag = soup.find("base", href=True)
    return canonical_url(str(tag["href"]), url) or url if tag is not None else url


# --- dates --------------------------------------------------------------------------------------


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=JAPAN)


def _date_match(match: re.Match[str]) -> datetime | None:
    if match.group("era"):
        era_year = match.group("eyear")
        year = ERAS[match.group("era")] + (1 if era_year == "元" else int(era_year))
    else:
        year = int(match.group("year"))
    try:
        return datetime.combine(date(year, int(match.group("month")), int(match.group("day"))), time(), JAPAN)
    except ValueError:
        return None


def parse_date(value: str) -> datetime | None:
    """A date or time written as ISO 8601, as an HTTP date, or as Japanese write it (2024年5月1日,
    令和6年5月1日, 2024/5/1)."""
    value = unicodedata.normalize("NFKC", value or "").strip()
    if not value:
        return None
    try:
        return _aware(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        pass
    try:
        return _aware(parsedate_to_datetime(value))
    except (TypeError, ValueError, IndexError):
        pass
    match = re.search(_DATE, value)
    return _date_match(match) if match else None


def _meta_date(soup: BeautifulSoup) -> datetime | None:
    for attribute, key in META_DATE_KEYS:
        for tag in soup.find_all("meta"):
            if str(tag.get(attribute) or "").lower() == key.lower() and (
                parsed := parse_date(str(tag.get("content") or ""))
            ):
                return parsed
    for tag in soup.find_all(True, attrs={"itemprop": "dateModified"}):
        if parsed := parse_date(str(tag.get("datetime") or tag.get("content") or tag.get_text())):
            return parsed
    return None


def _written_date(text: str) -> datetime | None:
    normalised = unicodedata.normalize("NFKC", text)
    for pattern in UPDATED_PATTERNS:
        for match in pattern.finditer(normalised):
            if parsed := _date_match(match):
                return parsed
    return None


# --- the page -----------------------------------------------------------------------------------


def extract(markup: str, *, url: str, http_last_modified: str = "") -> Extracted:
    """Title, main text, update date, links and headings of one HTML page."""
    soup = BeautifulSoup(markup, "html.parser")
    robots = {
        word.strip()
        for tag in soup.find_all("meta")
        if str(tag.get("name") or "").lower() in ("robots", "kairanbot")
        for word in str(tag.get("content") or "").lower().split(",")
    }
    nofollow = bool(robots & {"nofollow", "none"})
    links = [] if nofollow else _links(soup, _base(soup, url))
    whole_text = soup.get_text("\n")
    modified = _meta_date(soup) or _written_date(whole_text) or parse_date(http_last_modified)
    for tag in soup.find_all(["script", "style", "noscript", "template"]):
        tag.decompose()
    main = _main(soup)
    title = _title(soup, main)
    _remove_noise(main)
    lines = _lines(main)
    if lines and title and lines[0] == title:
        lines = lines[1:]
    headings: list[str] = []
    for heading in main.find_all(["h2", "h3"]):
        text = _clean_space(heading.get_text(" ", strip=True)).strip()
        if text and text not in headings and text != title:
            headings.append(text[:100])
    return Extracted(
        title=title,
        text="\n".join(lines),
        modified=modified,
        links=links,
        headings=headings[:MAX_PHRASINGS],
        noindex=bool(robots & {"noindex", "none"}),
        nofollow=nofollow,
    )


def summarize(text: str, *, limit: int = SUMMARY_CHARS) -> str:
    """The beginning of ``text``: whole lines while they fit in ``limit`` characters, then the next
    line cut after its last full sentence (「。」) that fits; "…" marks what was left out."""
    kept: list[str] = []
    used = 0
    for line in text.splitlines():
        if used + len(line) <= limit:
            kept.append(line)
            used += len(line) + 1
            continue
        room = limit - used
        if room > 40 or not kept:
            piece = line[:room]
            cut = piece.rfind("。")
            if cut >= room // 2:
                piece = piece[: cut + 1]
            kept.append(piece.rstrip() + "…")
        else:
            kept[-1] += "…"
        break
    return "\n".join(kept).strip()


def content_hash(*, title: str, text: str, url: str) -> str:
    """What decides whether a page changed: its title, text and address (and our format)."""
    payload = json.dumps({"v": FORMAT_VERSION, "title": title, "text": text, "url": url}, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


# --- sitemaps -----------------------------------------------------------------------------------

LOC = re.compile(r"<loc>\s*(.*?)\s*</loc>", re.IGNORECASE | re.DOTALL)


def sitemap_urls(content: bytes) -> tuple[list[str], bool]:
    """The URLs a sitemap lists and whether it is a sitemap index (its URLs are sitemaps).

    XML sitemaps are read for their ``<loc>`` elements without an XML parser (no entities, no
    network); a text sitemap is one URL per line.
    """
    text = content.decode("utf-8", errors="replace").lstrip("\ufeff")
    if "<" not in text:
        return [line.strip() for line in text.splitlines() if line.strip().startswith("http")], False
    is_index = re.search(r"<sitemapindex[\s>]", text, re.IGNORECASE) is not None
    text = re.sub(r"<!\[CDATA\[(.*?)\]\]>", r"\1", text, flags=re.DOTALL)
    return [html.unescape(match.strip()) for match in LOC.findall(text)], is_index
