"""The manual's pages: ``docs/manual/<slug>.md`` rendered with Python-Markdown.

Each file starts with metadata lines (Python-Markdown's ``meta`` extension)::

    title: ログインと二要素認証
    order: 10
    public: yes

``order`` sorts the pages; ``public: yes`` also serves the page without
logging in (the login help). A parsed page is cached until its file changes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import markdown
from bs4 import BeautifulSoup, Tag
from django.conf import settings
from markdown.extensions.toc import slugify_unicode

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
EXTENSIONS = ["meta", "toc", "tables", "fenced_code", "sane_lists"]
# Japanese headings keep their characters in their anchors (the default slugify drops them).
EXTENSION_CONFIGS = {"toc": {"slugify": slugify_unicode}}
TOC_LEVELS = ("h2", "h3")
TRUE_WORDS = {"yes", "true", "1", "はい"}
# URL names under /admin/manual/ that a page file must not take.
RESERVED_SLUGS = {"search"}


class ManualError(ValueError):
    """A manual file is malformed (missing title, non-integer order)."""


@dataclass(frozen=True)
class Heading:
    id: str
    title: str
    level: int
    children: list[Heading] = field(default_factory=list)


@dataclass(frozen=True)
class Section:
    """A heading and the text up to the next heading (the unit search works on)."""

    anchor: str  # "" for the text before the first heading
    title: str
    text: str


@dataclass(frozen=True)
class ManualPage:
    slug: str
    title: str
    order: int
    public: bool
    html: str
    toc: list[Heading]
    sections: list[Section]


def manual_dir() -> Path:
    return Path(settings.BASE_DIR) / "docs" / "manual"


_cache: dict[Path, tuple[int, ManualPage]] = {}


def _meta_value(meta: dict[str, list[str]], key: str) -> str:
    return " ".join(meta.get(key, [])).strip()


# Elements after which the plain text gets a space (inline markup such as <strong> gets none,
# so Japanese sentences stay unbroken).
HEADING_TAGS = ("h1", "h2", "h3", "h4", "h5", "h6")
BLOCK_TAGS = ("p", "li", "td", "th", "tr", "pre", "dt", "dd", "br", "blockquote", *HEADING_TAGS)


def _text(node: Tag) -> str:
    return " ".join(node.get_text().split())


def _text_soup(html: str) -> BeautifulSoup:
    """The page parsed for its plain text: a space marks the end of every block."""
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup.find_all(BLOCK_TAGS):
        tag.append(" ")
    return soup


def _toc(soup: BeautifulSoup) -> list[Heading]:
    """The page's h2 headings, each with its h3 headings."""
    toc: list[Heading] = []
    for tag in soup.find_all(TOC_LEVELS):
        heading = Heading(id=str(tag.get("id", "")), title=_text(tag), level=int(tag.name[1]))
        if heading.level == 3 and toc:
            toc[-1].children.append(heading)
        else:
            toc.append(heading)
    return toc


def _sections(soup: BeautifulSoup, title: str) -> list[Section]:
    """Split the rendered page at its headings; the intro belongs to the page title."""
    sections: list[tuple[str, str, list[str]]] = [("", title, [])]
    for node in soup.children:
        if not isinstance(node, Tag):
            if str(node).strip():
                sections[-1][2].append(str(node).strip())
            continue
        if node.name in HEADING_TAGS:
            sections.append((str(node.get("id", "")), _text(node), []))
        else:
            sections[-1][2].append(_text(node))
    return [
        Section(anchor=anchor, title=heading, text=" ".join(part for part in parts if part))
        for anchor, heading, parts in sections
    ]


# A line break between two Japanese characters inside a paragraph is not a space: browsers
# would show one, so the Markdown's wrapped lines are joined (code blocks are left alone).
CJK_BREAK_RE = re.compile(r"(?<=[^\x00-\x7f])[ \t]*\n[ \t]*(?=[^\x00-\x7f])")


def _join_japanese_lines(soup: BeautifulSoup) -> None:
    for string in soup.find_all(string=CJK_BREAK_RE):
        if string.find_parent(["pre", "code"]) is None:
            string.replace_with(CJK_BREAK_RE.sub("", str(string)))


def _link_pages(soup: BeautifulSoup) -> None:
    """Links between manual files (``staff.md#anchor``) point at the in-admin pages."""
    from kairan.manual.help import manual_url

    for link in soup.find_all("a", href=True):
        target, _, fragment = str(link["href"]).partition("#")
        if "/" not in target and target.endswith(".md") and SLUG_RE.match(target[:-3]):
            link["href"] = manual_url(target[:-3]) + (f"#{fragment}" if fragment else "")


def parse(path: Path) -> ManualPage:
    if path.stem in RESERVED_SLUGS:
        raise ManualError(f"{path.name}: この名前は検索画面が使うため、別のファイル名にしてください。")
    md = markdown.Markdown(extensions=EXTENSIONS, extension_configs=EXTENSION_CONFIGS)
    html = md.convert(path.read_text(encoding="utf-8"))
    meta: dict[str, list[str]] = getattr(md, "Meta", {})
    title = _meta_value(meta, "title")
    if not title:
        raise ManualError(f"{path.name}: 1行目に「title: ページ名」を書いてください。")
    try:
        order = int(_meta_value(meta, "order"))
    except ValueError:
        raise ManualError(f"{path.name}: 「order:」には整数を書いてください。") from None
    soup = BeautifulSoup(html, "html.parser")
    _join_japanese_lines(soup)
    _link_pages(soup)
    html = str(soup)
    text_soup = _text_soup(html)
    return ManualPage(
        slug=path.stem,
        title=title,
        order=order,
        public=_meta_value(meta, "public").lower() in TRUE_WORDS,
        html=html,
        toc=_toc(text_soup),
        sections=_sections(text_soup, title),
    )


def _load(path: Path) -> ManualPage:
    mtime = path.stat().st_mtime_ns
    cached = _cache.get(path)
    if cached is not None and cached[0] == mtime:
        return cached[1]
    page = parse(path)
    _cache[path] = (mtime, page)
    return page


def get_page(slug: str) -> ManualPage | None:
    """The page ``docs/manual/<slug>.md``, or None when there is none."""
    if not SLUG_RE.match(slug):
        return None
    path = manual_dir() / f"{slug}.md"
    if not path.is_file():
        return None
    return _load(path)


def all_pages() -> list[ManualPage]:
    """Every page, in ``order`` (then by slug)."""
    directory = manual_dir()
    if not directory.is_dir():
        return []
    paths = (path for path in directory.glob("*.md") if SLUG_RE.match(path.stem))
    return sorted((_load(path) for path in paths), key=lambda page: (page.order, page.slug))


def neighbours(page: ManualPage) -> tuple[ManualPage | None, ManualPage | None]:
    """The pages before and after ``page`` in the manual's order."""
    pages = all_pages()
    slugs = [p.slug for p in pages]
    index = slugs.index(page.slug)
    previous = pages[index - 1] if index > 0 else None
    following = pages[index + 1] if index + 1 < len(pages) else None
    return previous, following
