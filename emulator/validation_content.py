"""Checks inside one message object: templates, imagemap actions, quick replies and Flex containers.

They run on a ``Checker(nested=True)``: LINE's lower-case wording and slash paths relative to the
message (``template/actions/0/uri``, ``quickReply/items/2/action/label``) or, for Flex, JSON
pointers relative to the container (``/contents/0/body/contents/1/text``, ``/`` for the container).
"""

from __future__ import annotations

import json
import re
from typing import Any

from emulator.validation import (
    LINK_SCHEMES,
    QUICK_REPLY_MAX,
    Checker,
    check_action,
    grapheme_len,
)

# --- templates --------------------------------------------------------------------------------

TEMPLATE_TYPES = ("buttons", "confirm", "carousel", "image_carousel")
_COLOR = re.compile(r"^#[0-9A-Fa-f]{6}$")


def _color(c: Checker, parent: dict[str, Any], name: str, path: str) -> None:
    value = parent.get(name)
    if value is not None and (not isinstance(value, str) or not _COLOR.match(value)):
        c.add(c.key(path, name), "must be a color code in the #RRGGBB format")


def _actions(
    c: Checker, parent: dict[str, Any], path: str, low: int, high: int, *, label_max: int = 20
) -> list[Any] | None:
    actions = c.array(parent, "actions", path, low, high)
    for i, action in enumerate(actions or []):
        check_action(
            c, action, c.key(c.key(path, "actions"), i), "template", label_required=True, label_max=label_max
        )
    return actions


def _default_action(c: Checker, parent: dict[str, Any], path: str) -> None:
    if parent.get("defaultAction") is not None:
        check_action(c, parent["defaultAction"], c.key(path, "defaultAction"), "template")


def check_template(c: Checker, template: dict[str, Any]) -> None:
    path = "template"
    kind = c.enum(template, "type", path, TEMPLATE_TYPES, required=True)
    if kind == "buttons":
        c.url(template, "thumbnailImageUrl", path, required=False)
        c.enum(template, "imageAspectRatio", path, ("rectangle", "square"))
        c.enum(template, "imageSize", path, ("cover", "contain"))
        _color(c, template, "imageBackgroundColor", path)
        title = c.string(template, "title", path, 40, required=False, count=grapheme_len)
        plain = template.get("thumbnailImageUrl") is None and title is None
        c.string(template, "text", path, 160 if plain else 60, count=grapheme_len)
        _default_action(c, template, path)
        _actions(c, template, path, 1, 4)
    elif kind == "confirm":
        c.string(template, "text", path, 240, count=grapheme_len)
        _actions(c, template, path, 2, 2)
    elif kind == "carousel":
        c.enum(template, "imageAspectRatio", path, ("rectangle", "square"))
        c.enum(template, "imageSize", path, ("cover", "contain"))
        columns = c.array(template, "columns", path, 1, 10)
        _carousel_columns(c, columns or [], c.key(path, "columns"))
    elif kind == "image_carousel":
        columns = c.array(template, "columns", path, 1, 10)
        for i, column in enumerate(columns or []):
            where = c.key(c.key(path, "columns"), i)
            if not isinstance(column, dict):
                c.add(where, c.wrong_type("an object"))
                continue
            c.url(column, "imageUrl", where)
            if column.get("action") is None:
                c.missing(c.key(where, "action"))
            else:
                check_action(c, column["action"], c.key(where, "action"), "template", label_max=12)


def _carousel_columns(c: Checker, columns: list[Any], path: str) -> None:
    counts: set[int] = set()
    images: set[bool] = set()
    titles: set[bool] = set()
    for i, column in enumerate(columns):
        where = c.key(path, i)
        if not isinstance(column, dict):
            c.add(where, c.wrong_type("an object"))
            continue
        c.url(column, "thumbnailImageUrl", where, required=False)
        _color(c, column, "imageBackgroundColor", where)
        title = c.string(column, "title", where, 40, required=False, count=grapheme_len)
        plain = column.get("thumbnailImageUrl") is None and title is None
        c.string(column, "text", where, 120 if plain else 60, count=grapheme_len)
        _default_action(c, column, where)
        actions = _actions(c, column, where, 1, 3)
        if actions is not None:
            counts.add(len(actions))
        images.add(column.get("thumbnailImageUrl") is not None)
        titles.add(column.get("title") is not None)
    if len(counts) > 1:
        c.add(path, "all columns must have the same number of actions")
    if len(images) > 1:
        c.add(path, "thumbnailImageUrl must be specified in all columns or in none")
    if len(titles) > 1:
        c.add(path, "title must be specified in all columns or in none")


# --- imagemap --------------------------------------------------------------------------------


def _area(c: Checker, parent: dict[str, Any], path: str) -> None:
    area = c.obj(parent, "area", path)
    if area is None:
        return
    where = c.key(path, "area")
    for name in ("x", "y"):
        c.integer(area, name, where, 0)
    for name in ("width", "height"):
        c.integer(area, name, where, 1)


def check_imagemap_actions(c: Checker, message: dict[str, Any]) -> None:
    for i, action in enumerate(message.get("actions") or []):
        where = c.key("actions", i)
        if not isinstance(action, dict):
            c.add(where, c.wrong_type("an object"))
            continue
        kind = c.enum(action, "type", where, ("uri", "message", "clipboard"), required=True)
        c.string(action, "label", where, 50, required=False, count=grapheme_len)
        _area(c, action, where)
        if kind == "uri":
            c.url(action, "linkUri", where, schemes=LINK_SCHEMES, high=1000)
        elif kind == "message":
            c.string(action, "text", where, 400, count=grapheme_len)
        elif kind == "clipboard":
            c.string(action, "clipboardText", where, 1000, low=1)
    video = message.get("video")
    if video is None:
        if not message.get("actions"):
            c.add("actions", "size must be between 1 and 50")
        return
    if not isinstance(video, dict):
        c.add("video", c.wrong_type("an object"))
        return
    c.url(video, "originalContentUrl", "video")
    c.url(video, "previewImageUrl", "video")
    _area(c, video, "video")
    link = c.obj(video, "externalLink", "video", required=False)
    if link is not None:
        c.url(link, "linkUri", "video/externalLink", schemes=LINK_SCHEMES, high=1000)
        c.string(link, "label", "video/externalLink", 30, count=grapheme_len)


# --- quick reply -----------------------------------------------------------------------------


def check_quick_reply(c: Checker, quick_reply: dict[str, Any]) -> None:
    path = "quickReply"
    items = c.array(quick_reply, "items", path, 1, QUICK_REPLY_MAX)
    for i, item in enumerate(items or []):
        where = c.key(c.key(path, "items"), i)
        if not isinstance(item, dict):
            c.add(where, c.wrong_type("an object"))
            continue
        if item.get("type", "action") != "action":
            c.add(c.key(where, "type"), c.one_of(("action",)))
        c.url(item, "imageUrl", where, required=False)
        if item.get("action") is None:
            c.missing(c.key(where, "action"))
        else:
            check_action(c, item["action"], c.key(where, "action"), "quickReply", label_required=True)


# --- Flex ------------------------------------------------------------------------------------

FLEX_BUBBLE_MAX_BYTES = 30 * 1024
FLEX_CAROUSEL_MAX_BYTES = 50 * 1024
FLEX_CAROUSEL_MAX = 12
_MAX_DEPTH = 50
COMPONENT_TYPES = ("box", "button", "image", "video", "icon", "text", "span", "separator", "filler")
_IN_BOX = ("box", "button", "image", "text", "separator", "filler")
_IN_BASELINE = ("icon", "text", "filler")
_ASPECT = re.compile(r"^(\d{1,6}):(\d{1,6})$")
_ENUMS: dict[str, dict[str, tuple[str, ...]]] = {
    "box": {
        "layout": ("horizontal", "vertical", "baseline"),
        "position": ("relative", "absolute"),
        "justifyContent": (
            "center",
            "flex-start",
            "flex-end",
            "space-between",
            "space-around",
            "space-evenly",
        ),
        "alignItems": ("center", "flex-start", "flex-end"),
    },
    "text": {
        "align": ("start", "end", "center"),
        "gravity": ("top", "bottom", "center"),
        "weight": ("regular", "bold"),
        "style": ("normal", "italic"),
        "decoration": ("none", "underline", "line-through"),
        "position": ("relative", "absolute"),
        "adjustMode": ("shrink-to-fit",),
    },
    "button": {
        "style": ("primary", "secondary", "link"),
        "height": ("sm", "md"),
        "gravity": ("top", "bottom", "center"),
        "position": ("relative", "absolute"),
        "adjustMode": ("shrink-to-fit",),
    },
    "image": {
        "align": ("start", "end", "center"),
        "gravity": ("top", "bottom", "center"),
        "aspectMode": ("fit", "cover"),
        "position": ("relative", "absolute"),
    },
    "icon": {"position": ("relative", "absolute")},
    "span": {
        "weight": ("regular", "bold"),
        "style": ("normal", "italic"),
        "decoration": ("none", "underline", "line-through"),
    },
}


def check_flex(c: Checker, container: dict[str, Any]) -> None:
    """A Flex container (bubble or carousel); paths are JSON pointers from the container."""
    kind = c.enum(container, "type", "", ("bubble", "carousel"), required=True)
    if kind is None:
        return
    size = len(json.dumps(container, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    limit = FLEX_BUBBLE_MAX_BYTES if kind == "bubble" else FLEX_CAROUSEL_MAX_BYTES
    if size > limit:
        c.add(
            "",
            "Too large flex message. The maximum size of JSON data is "
            f"{limit // 1024}KB for a {kind} (this one is {size} bytes)",
        )
        return
    if kind == "bubble":
        _bubble(c, container, "")
        return
    bubbles = c.array(container, "contents", "", 1, FLEX_CAROUSEL_MAX)
    for i, bubble in enumerate(bubbles or []):
        where = c.key("/contents", i)
        if not isinstance(bubble, dict) or bubble.get("type") != "bubble":
            c.add(c.key(where, "type"), c.one_of(("bubble",)))
            continue
        _bubble(c, bubble, where)


def _bubble(c: Checker, bubble: dict[str, Any], path: str) -> None:
    c.enum(bubble, "size", path, ("nano", "micro", "deca", "hecto", "kilo", "mega", "giga"))
    c.enum(bubble, "direction", path, ("ltr", "rtl"))
    blocks = [name for name in ("header", "hero", "body", "footer") if bubble.get(name) is not None]
    if not blocks:
        c.add(path, "At least one block must be specified")
    for name in blocks:
        block = bubble[name]
        where = c.key(path, name)
        allowed = ("box", "image", "video") if name == "hero" else ("box",)
        if not isinstance(block, dict) or block.get("type") not in allowed:
            c.add(c.key(where, "type"), c.one_of(allowed))
            continue
        _component(c, block, where, 0)
    styles = bubble.get("styles")
    if styles is not None and not isinstance(styles, dict):
        c.add(c.key(path, "styles"), c.wrong_type("an object"))
    if bubble.get("action") is not None:
        check_action(c, bubble["action"], c.key(path, "action"), "flex", label_max=40)


def _component(c: Checker, component: dict[str, Any], path: str, depth: int) -> None:
    kind = str(component.get("type"))
    for name, values in _ENUMS.get(kind, {}).items():
        c.enum(component, name, path, values, required=name == "layout")
    if component.get("action") is not None and kind != "button":
        check_action(c, component["action"], c.key(path, "action"), "flex", label_max=40)
    if kind == "box":
        _box(c, component, path, depth)
    elif kind == "text":
        _text(c, component, path)
    elif kind in ("image", "icon"):
        c.url(component, "url", path)
        _aspect_ratio(c, component, path)
    elif kind == "button":
        if component.get("action") is None:
            c.missing(c.key(path, "action"))
        else:
            check_action(
                c, component["action"], c.key(path, "action"), "flex", label_required=True, label_max=40
            )
    elif kind == "video":
        c.url(component, "url", path)
        c.url(component, "previewUrl", path)
        _aspect_ratio(c, component, path)
        alt = c.obj(component, "altContent", path)
        if alt is not None:
            where = c.key(path, "altContent")
            if alt.get("type") not in ("box", "image"):
                c.add(c.key(where, "type"), c.one_of(("box", "image")))
            else:
                _component(c, alt, where, depth + 1)


def _box(c: Checker, box: dict[str, Any], path: str, depth: int) -> None:
    if depth > _MAX_DEPTH:
        c.add(path, f"boxes may be nested at most {_MAX_DEPTH} levels deep")
        return
    contents = box.get("contents")
    if contents is None:
        c.missing(c.key(path, "contents"))
        return
    if not isinstance(contents, list):
        c.add(c.key(path, "contents"), c.wrong_type("an array"))
        return
    allowed = _IN_BASELINE if box.get("layout") == "baseline" else _IN_BOX
    for i, child in enumerate(contents):
        where = c.key(c.key(path, "contents"), i)
        if not isinstance(child, dict) or child.get("type") not in allowed:
            c.add(c.key(where, "type"), c.one_of(allowed))
            continue
        _component(c, child, where, depth + 1)


def _text(c: Checker, text: dict[str, Any], path: str) -> None:
    spans = text.get("contents")
    if spans is not None:
        if not isinstance(spans, list):
            c.add(c.key(path, "contents"), c.wrong_type("an array"))
            spans = None
        else:
            for i, span in enumerate(spans):
                where = c.key(c.key(path, "contents"), i)
                if not isinstance(span, dict) or span.get("type") != "span":
                    c.add(c.key(where, "type"), c.one_of(("span",)))
                    continue
                for name, values in _ENUMS["span"].items():
                    c.enum(span, name, where, values)
                if not isinstance(span.get("text"), str) or not span["text"]:
                    c.add(c.key(where, "text"), "must be non-empty text")
    value = text.get("text")
    if not spans and (not isinstance(value, str) or not value):
        c.add(c.key(path, "text"), "must be non-empty text")
    max_lines = text.get("maxLines")
    if max_lines is not None:
        c.integer(text, "maxLines", path, 0)


def _aspect_ratio(c: Checker, component: dict[str, Any], path: str) -> None:
    value = component.get("aspectRatio")
    if value is None:
        return
    match = _ASPECT.match(value) if isinstance(value, str) else None
    if match is None:
        c.add(c.key(path, "aspectRatio"), "must be in the {width}:{height} format")
        return
    width, height = int(match.group(1)), int(match.group(2))
    if not (1 <= width <= 100000 and 1 <= height <= 100000) or height > width * 3:
        c.add(
            c.key(path, "aspectRatio"),
            "width and height must be between 1 and 100000, and height at most three times width",
        )
