"""A メニューセット as LINE sees it: one rich menu object and one image per tab.

``line_tabs(menu_set)`` is what publishing sends: the menu objects (bounds in image pixels,
actions, the tab strip's ``richmenuswitch`` areas) and images that are exactly LINE's size and
under its 1 MB limit (generated with ``line_channel.richmenu_design``, or the uploaded image
resized and compressed). ``preview_tabs`` renders the same for the admin preview.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from chatbot.actions import page_action
from line_channel.richmenu_design.layouts import SIZES, Area, tab_rects
from line_channel.richmenu_design.render import MAX_BYTES, encode_png, render_menu
from richmenus.blocks import tab_layout

SWITCH_DATA = "kairan:richmenu-tab:{tab}"  # the postback data of a tab switch (LINE requires data)


@dataclass
class TabMenu:
    """One tab as LINE needs it."""

    number: int  # 1-based
    alias_id: str
    title: str
    menu: dict[str, Any]  # the rich menu object, without richMenuId
    image: bytes
    content_type: str
    areas: list[dict[str, Any]] = field(default_factory=list)  # for the preview: label, bounds, action


def _tabs(menu_set: Any) -> list[Any]:
    return [child.value for child in menu_set.tabs]


def area_action(area: Any, menu_set: Any) -> dict[str, Any]:
    """The LINE action of an area."""
    label = area["label"]
    kind = area["action"]
    if kind == "page":
        return page_action(area["page"], label=label)
    if kind == "url":
        return {"type": "uri", "label": label, "uri": str(area["url"])}
    if kind == "text":
        return {"type": "message", "label": label, "text": area["text"]}
    if kind == "tab":
        return switch_action(menu_set, area["tab"], label=label)
    if kind == "tel":
        return {"type": "uri", "label": label, "uri": "tel:" + area["tel"].strip().replace("-", "")}
    raise ValueError(f"unknown area action {kind!r}")


def switch_action(menu_set: Any, tab: int, *, label: str) -> dict[str, Any]:
    return {
        "type": "richmenuswitch",
        "label": label,
        "richMenuAliasId": menu_set.alias_id(tab),
        "data": SWITCH_DATA.format(tab=tab),
    }


def _bounds(x: int, y: int, width: int, height: int) -> dict[str, int]:
    return {"x": x, "y": y, "width": width, "height": height}


def tab_image(
    tab: Any, *, tiles: list[Area], titles: list[str], active: int, theme: str
) -> tuple[bytes, str]:
    """The tab's image (bytes, content type): generated, or the upload fitted to LINE's rules."""
    size = tab["size"]
    if tab["image_source"] == "upload":
        return fit_upload(tab["image"], size)
    strip = titles if len(titles) > 1 else None
    return render_menu(size=size, areas=tiles, tabs=strip, active_tab=active, theme=theme), "image/png"


def fit_upload(image: Any, size: str) -> tuple[bytes, str]:
    """An uploaded Wagtail image at exactly LINE's size, under 1 MB: PNG when it fits, else JPEG."""
    with image.open_file() as source:
        opened = Image.open(source)
        opened.load()
    picture: Image.Image = opened
    picture = picture.convert("RGBA" if picture.mode in ("RGBA", "LA", "P") else "RGB")
    picture = picture.resize(SIZES[size], Image.Resampling.LANCZOS)
    if picture.mode == "RGBA":
        flat = Image.new("RGB", picture.size, "white")
        flat.paste(picture, mask=picture.getchannel("A"))
        picture = flat
    if (image.file.name or "").lower().endswith(".png"):
        data = io.BytesIO()
        picture.save(data, format="PNG", optimize=True)
        if data.tell() <= MAX_BYTES:
            return data.getvalue(), "image/png"
    for quality in (90, 85, 80, 70, 60, 50, 40, 30, 20):
        data = io.BytesIO()
        picture.save(data, format="JPEG", quality=quality, optimize=True)
        if data.tell() <= MAX_BYTES:
            return data.getvalue(), "image/jpeg"
    return encode_png(picture, palette=True), "image/png"


def line_tabs(menu_set: Any, *, images: bool = True) -> list[TabMenu]:
    """Every tab of the set (as it is now: call on a revision's object) as LINE needs it
    (``images=False``: without drawing the images, which is most of the time)."""
    tabs = _tabs(menu_set)
    titles = [tab["title"] for tab in tabs]
    result = []
    for number, tab in enumerate(tabs, start=1):
        size = tab["size"]
        width, height = SIZES[size]
        layout = tab_layout(tab, len(tabs))
        areas: list[dict[str, Any]] = []
        if len(tabs) > 1:
            for other, rect in enumerate(tab_rects(size, len(tabs)), start=1):
                action = switch_action(menu_set, other, label=f"{titles[other - 1]}タブ")
                areas.append({"bounds": _bounds(rect.x, rect.y, rect.width, rect.height), "action": action})
        tiles = []
        for index, area in enumerate(tab["areas"]):
            if layout is not None:
                rect = layout.tiles[index]
                x, y, w, h = rect.x, rect.y, rect.width, rect.height
            else:
                x, y, w, h = area["x"], area["y"], area["width"], area["height"]
            tiles.append(Area(x, y, w, h, area["label"], area["icon"] or None))
            areas.append({"bounds": _bounds(x, y, w, h), "action": area_action(area, menu_set)})
        menu = {
            "size": {"width": width, "height": height},
            "selected": True,
            "name": f"{menu_set.name} {number}. {tab['title']}"[:300],
            "chatBarText": tab["chat_bar_text"],
            "areas": areas,
        }
        image, content_type = (
            tab_image(tab, tiles=tiles, titles=titles, active=number - 1, theme=menu_set.theme)
            if images
            else (b"", "")
        )
        result.append(
            TabMenu(number, menu_set.alias_id(number), tab["title"], menu, image, content_type, areas)
        )
    return result


def describe_action(action: dict[str, Any], titles: list[str]) -> str:
    """What a tap does, in Japanese (the preview's and the manual's words); ``titles`` are the
    set's tab titles (a switch names the tab it goes to)."""
    kind = action["type"]
    if kind == "richmenuswitch":
        target = int(action["data"].rsplit(":", 1)[1])
        return f"タブ「{titles[target - 1]}」に切り替え"
    if kind == "message":
        return f"「{action['text']}」と送信"
    if kind == "postback":
        return f"チャットボット「{action['displayText']}」を開始"
    uri = action["uri"]
    if uri.startswith("tel:"):
        return f"{uri[4:]} に電話"
    return f"{uri} を開く"


def preview_tabs(menu_set: Any) -> list[dict[str, Any]]:
    """The tabs for the admin preview: image as a data URL, areas as percentages with their action."""
    preview = []
    tabs = line_tabs(menu_set)
    titles = [tab.title for tab in tabs]
    for tab in tabs:
        width, height = tab.menu["size"]["width"], tab.menu["size"]["height"]
        encoded = base64.b64encode(tab.image).decode()
        areas = []
        for area in tab.menu["areas"]:
            b = area["bounds"]
            action = area["action"]
            target = int(action["data"].rsplit(":", 1)[1]) if action["type"] == "richmenuswitch" else None
            areas.append(
                {
                    "left": 100 * b["x"] / width,
                    "top": 100 * b["y"] / height,
                    "width": 100 * b["width"] / width,
                    "height": 100 * b["height"] / height,
                    "label": action.get("label", ""),
                    "describe": describe_action(action, titles),
                    "tab": target,
                }
            )
        preview.append(
            {
                "number": tab.number,
                "title": tab.title,
                "chat_bar_text": tab.menu["chatBarText"],
                "image": f"data:{tab.content_type};base64,{encoded}",
                "ratio": 100 * height / width,
                "areas": areas,
            }
        )
    return preview


IMAGE_CACHE_SECONDS = 60 * 60 * 24 * 90


def image_cache_key(rich_menu_id: str) -> str:
    return f"richmenus:image:{rich_menu_id}"


def remember_image(rich_menu_id: str, image: bytes, content_type: str) -> None:
    """Keep the image sent with a menu, so copies of it (災害モード) need not draw it again."""
    from django.core.cache import cache

    cache.set(image_cache_key(rich_menu_id), (image, content_type), IMAGE_CACHE_SECONDS)


def remembered_image(rich_menu_id: str) -> tuple[bytes, str] | None:
    from django.core.cache import cache

    found = cache.get(image_cache_key(rich_menu_id))
    return found if isinstance(found, tuple) else None
