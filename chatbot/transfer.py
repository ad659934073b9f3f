"""Scenario files (§③ウ テンプレート): a subtree of answer pages as one JSON document, to move
scenarios between cities or environments and to start from the starter pack.

Format (``kairan-chatbot-scenario``, version 1)::

    {"format": "kairan-chatbot-scenario", "version": 1,
     "pages": [{"title": "...", "slug": "...", "button_label": "", "choice_style": "auto",
                "choice_prompt": "", "phrasings": "", "keywords": [{"text": "...", "match": "exact",
                "priority": 0}], "body": [...], "extra_choices": [...], "children": [...]}]}

``body`` and ``extra_choices`` are the StreamField blocks as ``{"type", "value"}`` without their ids.
References are portable: a page inside the file is ``{"page": "./slug/slug"}`` (slugs from the
file's top level), a page outside it is its path in the site (``{"page": "/kurashi/"}``), an image is
its title (``{"image": "title"}``); an import resolves them and names what it could not find. Import
then export gives the same document.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from wagtail import blocks
from wagtail.images import get_image_model
from wagtail.images.blocks import ImageChooserBlock
from wagtail.models import Page

from chatbot.models import AnswerKeyword, AnswerPage

FORMAT = "kairan-chatbot-scenario"
VERSION = 1
FIELDS = ("button_label", "choice_style", "choice_prompt", "phrasings")


class ScenarioFileError(ValueError):
    """The file is not a scenario file this version can read (the message is Japanese)."""


# --- portable block values ---------------------------------------------------------------------------


def _site_path(page: Page) -> str:
    """The page's path below its site's root (``/kurashi/gomi/``), unencoded."""
    return "/" + str(page.url_path).strip("/").partition("/")[2] + "/" if page.depth > 2 else "/"


def _out(block: Any, raw: Any, inside: dict[int, str]) -> Any:
    """A block's stored value with ids removed and references made portable."""
    if isinstance(block, blocks.StreamBlock):
        return [
            {"type": child["type"], "value": _out(block.child_blocks[child["type"]], child["value"], inside)}
            for child in raw or []
            if child.get("type") in block.child_blocks
        ]
    if isinstance(block, blocks.ListBlock):
        items = [item["value"] if isinstance(item, dict) and "type" in item else item for item in raw or []]
        return [_out(block.child_block, item, inside) for item in items]
    if isinstance(block, blocks.StructBlock):
        return {
            name: _out(child, (raw or {}).get(name), inside) for name, child in block.child_blocks.items()
        }
    if isinstance(block, blocks.PageChooserBlock) and raw:
        if raw in inside:
            return inside[raw]
        page = Page.objects.filter(pk=raw).first()
        return _site_path(page) if page else None
    if isinstance(block, ImageChooserBlock) and raw:
        image = get_image_model().objects.filter(pk=raw).first()
        return image.title if image else None
    return raw


@dataclass
class _Import:
    root: Page
    created: dict[str, int] = field(default_factory=dict)  # "./a/b" -> page id
    problems: list[str] = field(default_factory=list)

    def page_ref(self, ref: Any, where: str) -> int | None:
        if not isinstance(ref, str) or not ref:
            return None
        if ref.startswith("./"):
            found = self.created.get(ref)
        else:
            rows = Page.objects.filter(url_path__endswith=ref) if ref != "/" else Page.objects.filter(depth=2)
            match = [page for page in rows if _site_path(page) == ref]
            found = match[0].pk if match else None
        if found is None:
            self.problems.append(f"{where}: ページ「{ref}」が見つからないため、空にしました。")
        return found

    def image_ref(self, ref: Any, where: str) -> int | None:
        if not isinstance(ref, str) or not ref:
            return None
        image = get_image_model().objects.filter(title=ref).order_by("pk").first()
        if image is None:
            self.problems.append(f"{where}: 画像「{ref}」が見つからないため、空にしました。")
            return None
        return int(image.pk)

    def value(self, block: Any, data: Any, where: str) -> Any:
        if isinstance(block, blocks.StreamBlock):
            if not isinstance(data, list):
                return []
            return [
                {
                    "type": item["type"],
                    "value": self.value(block.child_blocks[item["type"]], item.get("value"), where),
                }
                for item in data
                if isinstance(item, dict) and item.get("type") in block.child_blocks
            ]
        if isinstance(block, blocks.ListBlock):
            return [self.value(block.child_block, item, where) for item in data or []]
        if isinstance(block, blocks.StructBlock):
            data = data if isinstance(data, dict) else {}
            return {
                name: self.value(child, data.get(name), where) for name, child in block.child_blocks.items()
            }
        if isinstance(block, blocks.PageChooserBlock):
            return self.page_ref(data, where)
        if isinstance(block, ImageChooserBlock):
            return self.image_ref(data, where)
        return data


def _stream_block(name: str) -> Any:
    return AnswerPage._meta.get_field(name).stream_block


# --- export ------------------------------------------------------------------------------------------


def export_tree(roots: list[AnswerPage]) -> dict[str, Any]:
    """The subtrees under (and including) ``roots`` (siblings, in page order), latest revisions."""
    roots = sorted(roots, key=lambda page: page.path)
    pages = [page for root in roots for page in [root, *AnswerPage.objects.descendant_of(root).specific()]]
    base = roots[0].get_parent().url_path
    inside = {page.pk: "./" + page.url_path[len(base) :].strip("/") for page in pages}
    latest = {page.pk: page.get_latest_revision_as_object() for page in pages}

    def node(page: AnswerPage) -> dict[str, Any]:
        shown = latest[page.pk]
        children = [
            child for child in pages if child.path[:-4] == page.path and child.depth == page.depth + 1
        ]
        return {
            "title": shown.title,
            "slug": page.slug,
            **{name: getattr(shown, name) for name in FIELDS},
            "keywords": [
                {"text": word.text, "match": word.match, "priority": word.priority}
                for word in shown.keywords.all()
            ],
            "body": _out(_stream_block("body"), shown.body.get_prep_value(), inside),
            "extra_choices": _out(
                _stream_block("extra_choices"), shown.extra_choices.get_prep_value(), inside
            ),
            "children": [node(child) for child in sorted(children, key=lambda c: c.path)],
        }

    return {"format": FORMAT, "version": VERSION, "pages": [node(root) for root in roots]}


def dumps(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


# --- import ------------------------------------------------------------------------------------------


def parse(text: str | bytes) -> dict[str, Any]:
    try:
        document = json.loads(text)
    except (ValueError, UnicodeDecodeError) as error:
        raise ScenarioFileError("シナリオのファイルとして読めません（JSON ではありません）。") from error
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ScenarioFileError("Kairan のシナリオのファイルではありません。")
    if document.get("version") != VERSION:
        raise ScenarioFileError(f"このファイルの版（{document.get('version')}）は読めません。")
    if not isinstance(document.get("pages"), list) or not document["pages"]:
        raise ScenarioFileError("ファイルにページがありません。")
    return document


@transaction.atomic
def import_tree(
    *, document: dict[str, Any], parent: Page, publish: bool = False, user: Any = None
) -> tuple[list[AnswerPage], list[str]]:
    """Create the file's pages under ``parent`` (drafts unless ``publish``); returns the top pages
    and what could not be resolved. A slug already used under the parent gets a number."""
    state = _Import(root=parent)
    made: list[tuple[AnswerPage, dict[str, Any], str]] = []

    def create(data: dict[str, Any], under: Page, prefix: str) -> AnswerPage:
        if not isinstance(data, dict) or not str(data.get("title") or "").strip():
            raise ScenarioFileError("タイトルのないページがあります。")
        slug = _free_slug(under, str(data.get("slug") or ""), str(data["title"]))
        page = AnswerPage(
            title=str(data["title"]).strip()[:255],
            slug=slug,
            body=[{"type": "text", "value": str(data["title"])}],  # (the real body is set below)
            live=False,
            **{
                name: str(data.get(name) or AnswerPage._meta.get_field(name).get_default()) for name in FIELDS
            },
        )
        under.add_child(instance=page)
        path = f"{prefix}/{data.get('slug') or slug}"
        state.created[path] = page.pk
        made.append((page, data, path))
        for child in data.get("children") or []:
            create(child, page, path)
        return page

    tops = [create(data, parent, ".") for data in document["pages"]]
    for page, data, _path in made:
        where = f"「{page.title}」"
        page.body = state.value(_stream_block("body"), data.get("body"), where) or page.body
        page.extra_choices = state.value(_stream_block("extra_choices"), data.get("extra_choices"), where)
        page.keywords = [
            AnswerKeyword(
                text=str(word.get("text") or "")[:100],
                match=word.get("match") or "exact",
                priority=int(word.get("priority") or 0),
            )
            for word in data.get("keywords") or []
            if isinstance(word, dict) and word.get("text")
        ]
        revision = page.save_revision(user=user, log_action=True)
        if publish:
            revision.publish(user=user)
    return tops, state.problems


def _free_slug(parent: Page, slug: str, title: str) -> str:
    from django.utils.text import slugify

    base = slugify(slug, allow_unicode=True) or slugify(title, allow_unicode=True) or "page"
    taken = set(parent.get_children().values_list("slug", flat=True))
    candidate, number = base, 2
    while candidate in taken:
        candidate, number = f"{base}-{number}", number + 1
    return candidate
