"""Drawing rich-menu images: a tab strip (optional), then tiles with an icon and a Japanese label.

:func:`render_menu` returns PNG bytes that meet LINE's rules: exactly
2500×1686 (large) or 2500×843 (compact) and at most 1,000,000 bytes (the
image is reduced to a 256-colour palette when the full-colour PNG is larger).
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from PIL import Image, ImageDraw

from .errors import RichMenuDesignError
from .fonts import load_font
from .icons import ICONS, draw_icon
from .layouts import (
    LAYOUTS,
    MAX_AREAS,
    MAX_TABS,
    MIN_TABS,
    TAB_HEADER_HEIGHT,
    Area,
    Layout,
    MenuSize,
    image_size,
    tab_rects,
)
from .text import FittedText, fit_text
from .themes import DEFAULT_THEME, Theme, get_theme

__all__ = [
    "LAYOUTS",
    "MAX_BYTES",
    "TAB_HEADER_HEIGHT",
    "Area",
    "Layout",
    "render_image",
    "render_menu",
    "tab_shape",
]

MAX_BYTES = 1_000_000  # LINE: a rich-menu image is at most 1 MB
GAP = 10  # pixels between tiles (half of it along the image's edges)
TILE_RADIUS = 22
TILE_PADDING = 0.07  # of the tile's shorter side
LABEL_SIZE = 0.13  # largest label font size, of the tile's height
LABEL_MIN_SIZE, LABEL_MAX_SIZE = 26, 84
ICON_MAX = 0.5  # largest icon, of the tile's height
TAB_MARGIN = 8  # pixels between two tabs' shapes (each side)
TAB_RADIUS = 24
TAB_TOP_ACTIVE, TAB_TOP_INACTIVE = 0.10, 0.22  # top of a tab's shape, of the header height
TAB_LABEL_SIZE = 0.30  # of the header height
TAB_LABEL_MIN_SIZE = 24


def _check(size: str, areas: Sequence[Area], tabs: Sequence[str] | None, active_tab: int) -> None:
    width, height = image_size(size)
    tab_count = len(tabs) if tabs is not None else 0
    if tabs is not None:
        if not MIN_TABS <= tab_count <= MAX_TABS:
            raise RichMenuDesignError(f"タブは {MIN_TABS}〜{MAX_TABS} 個です（指定: {tab_count} 個）")
        if any(not tab.strip() for tab in tabs):
            raise RichMenuDesignError("タブの名前が空です")
        if not 0 <= active_tab < tab_count:
            raise RichMenuDesignError(
                f"選択中のタブの番号 {active_tab} がタブの数（{tab_count}）を超えています"
            )
    if tab_count + len(areas) > MAX_AREAS:
        raise RichMenuDesignError(
            f"LINE のリッチメニューのエリアはタブを含めて {MAX_AREAS} 個までです"
            f"（タブ {tab_count} 個、エリア {len(areas)} 個）"
        )
    for index, area in enumerate(areas, start=1):
        if area.width <= 0 or area.height <= 0:
            raise RichMenuDesignError(f"エリア {index}「{area.label}」の幅か高さが 0 以下です")
        if area.x < 0 or area.y < 0 or area.x + area.width > width or area.y + area.height > height:
            raise RichMenuDesignError(
                f"エリア {index}「{area.label}」が画像（{width}×{height}）からはみ出しています"
            )
        if area.icon is not None and area.icon not in ICONS:
            raise RichMenuDesignError(f"エリア {index} のアイコン「{area.icon}」はありません")


def tab_shape(size: str, count: int, index: int, active: bool) -> tuple[int, int, int, int]:
    """The box (left, top, right, bottom) of a tab's drawn shape inside its LINE area."""
    rect = tab_rects(size, count)[index]
    header = TAB_HEADER_HEIGHT[size]
    top = round(header * (TAB_TOP_ACTIVE if active else TAB_TOP_INACTIVE))
    return rect.x + TAB_MARGIN, top, rect.right - TAB_MARGIN - 1, header - 1


def _draw_text(
    draw: ImageDraw.ImageDraw, fitted: FittedText, centre_x: float, top: float, colour: str
) -> None:
    font = load_font(fitted.size)
    for number, line in enumerate(fitted.lines):
        y = top + fitted.line_height * (number + 0.5)
        draw.text((centre_x, y), line, font=font, fill=colour, anchor="mm")


def _draw_tabs(image: Image.Image, size: str, tabs: Sequence[str], active_tab: int, theme: Theme) -> None:
    draw = ImageDraw.Draw(image)
    header = TAB_HEADER_HEIGHT[size]
    draw.rectangle((0, 0, image.width - 1, header - 1), fill=theme.tab_strip)
    for index, label in enumerate(tabs):
        active = index == active_tab
        left, top, right, bottom = tab_shape(size, len(tabs), index, active)
        background = theme.tab_active_background if active else theme.tab_inactive_background
        text_colour = theme.tab_active_text if active else theme.tab_inactive_text
        draw.rounded_rectangle(
            (left, top, right, bottom), radius=TAB_RADIUS, fill=background, corners=(True, True, False, False)
        )
        fitted = fit_text(
            label,
            max_width=(right - left) - 2 * TAB_RADIUS,
            max_size=round(header * TAB_LABEL_SIZE),
            min_size=TAB_LABEL_MIN_SIZE,
            max_lines=1,
        )
        text_top = top + ((bottom - top) - fitted.height) / 2
        _draw_text(draw, fitted, (left + right) / 2, text_top, text_colour)


def _draw_tile(image: Image.Image, area: Area, theme: Theme) -> None:
    draw = ImageDraw.Draw(image)
    inset = GAP // 2
    left, top = area.x + inset, area.y + inset
    right, bottom = area.x + area.width - inset, area.y + area.height - inset
    if right <= left or bottom <= top:
        return
    radius = min(TILE_RADIUS, (right - left) // 4, (bottom - top) // 4)
    draw.rounded_rectangle((left, top, right - 1, bottom - 1), radius=radius, fill=theme.tile_background)

    padding = round(min(right - left, bottom - top) * TILE_PADDING)
    inner_width, inner_height = right - left - 2 * padding, bottom - top - 2 * padding
    if inner_width <= 0 or inner_height <= 0:
        return
    largest = round(min(LABEL_MAX_SIZE, max(LABEL_MIN_SIZE, area.height * LABEL_SIZE)))
    if area.icon is None:
        largest = min(round(largest * 1.3), inner_height // 3)
    fitted = fit_text(area.label, max_width=inner_width, max_size=largest, min_size=LABEL_MIN_SIZE)
    spacing = round(fitted.size * 0.35) if fitted.lines and area.icon else 0
    icon_size = 0
    if area.icon is not None:
        icon_size = max(
            0, min(inner_width, inner_height - fitted.height - spacing, round(area.height * ICON_MAX))
        )
    group = icon_size + spacing + fitted.height
    y = top + padding + (inner_height - group) / 2
    centre_x = (left + right) / 2
    if area.icon is not None and icon_size > 0:
        x = round(centre_x - icon_size / 2)
        draw_icon(image, area.icon, (x, round(y), x + icon_size, round(y) + icon_size), theme.icon)
    _draw_text(draw, fitted, centre_x, y + icon_size + spacing, theme.tile_text)


def render_image(
    *,
    size: MenuSize,
    areas: Sequence[Area],
    tabs: Sequence[str] | None = None,
    active_tab: int = 0,
    theme: str = DEFAULT_THEME,
) -> Image.Image:
    """The menu as an RGB Pillow image (see :func:`render_menu`)."""
    chosen = get_theme(theme)
    _check(size, areas, tabs, active_tab)
    image = Image.new("RGB", image_size(size), chosen.gap)
    if tabs:
        _draw_tabs(image, size, tabs, active_tab, chosen)
    for area in areas:
        _draw_tile(image, area, chosen)
    return image


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def encode_png(image: Image.Image, *, palette: bool = False, max_bytes: int = MAX_BYTES) -> bytes:
    """PNG bytes of at most ``max_bytes``: full colour when it fits, else a 256-colour palette."""
    if not palette:
        data = _png(image)
        if len(data) <= max_bytes:
            return data
    data = _png(image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE))
    if len(data) > max_bytes:
        raise RichMenuDesignError(
            f"リッチメニューの画像が {len(data):,} バイトになり、LINE の上限 {max_bytes:,} バイトを超えます"
        )
    return data


def render_menu(
    *,
    size: MenuSize,
    areas: Sequence[Area],
    tabs: Sequence[str] | None = None,
    active_tab: int = 0,
    theme: str = DEFAULT_THEME,
    palette: bool = False,
) -> bytes:
    """A rich-menu image as PNG bytes.

    ``areas`` are the tiles in image pixels (2500 wide); with ``tabs`` (2–5
    labels) a tab strip fills the header row (``TAB_HEADER_HEIGHT``) with the
    tab ``active_tab`` highlighted, and the tiles are expected below it.
    ``palette`` forces the 256-colour palette (smaller files, e.g. samples).
    """
    image = render_image(size=size, areas=areas, tabs=tabs, active_tab=active_tab, theme=theme)
    return encode_png(image, palette=palette)
