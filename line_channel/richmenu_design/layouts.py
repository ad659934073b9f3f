"""Rich-menu sizes and the standard layouts: where the tabs and the tiles go, in image pixels.

A layout covers the whole image without gaps or overlaps, so every pixel a
resident taps belongs to exactly one LINE area: the tab areas (when the menu
has tabs) across the header row, then the grid of tiles below. The renderer
draws the tab strip with :func:`tab_rects`, the same geometry the layouts use.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

MenuSize = Literal["large", "compact"]

WIDTH = 2500
SIZES: dict[str, tuple[int, int]] = {"large": (WIDTH, 1686), "compact": (WIDTH, 843)}
# The header row holding the tab strip, shared by the layouts and the renderer.
TAB_HEADER_HEIGHT: dict[str, int] = {"large": 200, "compact": 150}
MIN_TABS, MAX_TABS = 2, 5
MAX_AREAS = 20  # LINE: at most 20 areas per rich menu, tabs included


@dataclass(frozen=True)
class Rect:
    x: int
    y: int
    width: int
    height: int

    @property
    def right(self) -> int:
        return self.x + self.width

    @property
    def bottom(self) -> int:
        return self.y + self.height

    def overlaps(self, other: Rect) -> bool:
        return (
            self.x < other.right and other.x < self.right and self.y < other.bottom and other.y < self.bottom
        )


@dataclass(frozen=True)
class Area:
    """One tile of a menu image: its place in image pixels, its Japanese label and icon name."""

    x: int
    y: int
    width: int
    height: int
    label: str
    icon: str | None = None

    @property
    def rect(self) -> Rect:
        return Rect(self.x, self.y, self.width, self.height)


@dataclass(frozen=True)
class Layout:
    size: MenuSize
    tabs: tuple[Rect, ...]  # the header row, one per tab (empty: no tabs)
    tiles: tuple[Rect, ...]  # the grid below, row by row

    @property
    def rects(self) -> tuple[Rect, ...]:
        """Every LINE area of the menu: the tabs, then the tiles."""
        return self.tabs + self.tiles

    def areas(self, items: Sequence[tuple[str, str | None]]) -> list[Area]:
        """The tiles with (label, icon) given row by row, one item per tile."""
        if len(items) != len(self.tiles):
            raise ValueError(f"この配置のタイルは {len(self.tiles)} 個です（項目: {len(items)} 個）")
        return [
            Area(rect.x, rect.y, rect.width, rect.height, label, icon)
            for rect, (label, icon) in zip(self.tiles, items, strict=True)
        ]


def image_size(size: str) -> tuple[int, int]:
    try:
        return SIZES[size]
    except KeyError:
        raise ValueError(f"リッチメニューの大きさは large か compact です（指定: {size!r}）") from None


def _split(start: int, length: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` consecutive (start, length) spans covering ``length`` exactly."""
    edges = [start + round(length * i / parts) for i in range(parts + 1)]
    return [(edges[i], edges[i + 1] - edges[i]) for i in range(parts)]


def tab_rects(size: str, count: int) -> tuple[Rect, ...]:
    """The LINE areas of ``count`` tabs: equal parts of the header row."""
    if not MIN_TABS <= count <= MAX_TABS:
        raise ValueError(f"タブは {MIN_TABS}〜{MAX_TABS} 個です（指定: {count} 個）")
    width, _ = image_size(size)
    height = TAB_HEADER_HEIGHT[size]
    return tuple(Rect(x, 0, w, height) for x, w in _split(0, width, count))


def grid(size: MenuSize, rows: int, cols: int, tab_count: int = 0) -> Layout:
    """``rows``×``cols`` tiles filling the image, below a tab header when ``tab_count`` > 0."""
    if rows < 1 or cols < 1:
        raise ValueError("行と列は 1 以上です")
    width, height = image_size(size)
    tabs = tab_rects(size, tab_count) if tab_count else ()
    top = TAB_HEADER_HEIGHT[size] if tabs else 0
    if len(tabs) + rows * cols > MAX_AREAS:
        raise ValueError(f"LINE のリッチメニューのエリアは {MAX_AREAS} 個までです")
    tiles = tuple(
        Rect(x, y, w, h) for y, h in _split(top, height - top, rows) for x, w in _split(0, width, cols)
    )
    return Layout(size, tabs, tiles)


def grid_3x3(size: MenuSize, tab_count: int = 0) -> Layout:
    """3 rows × 3 columns: 9 tiles."""
    return grid(size, 3, 3, tab_count)


def grid_2x3(size: MenuSize, tab_count: int = 0) -> Layout:
    """2 rows × 3 columns: 6 tiles."""
    return grid(size, 2, 3, tab_count)


def grid_4x3(size: MenuSize, tab_count: int = 0) -> Layout:
    """4 columns × 3 rows: 12 tiles."""
    return grid(size, 3, 4, tab_count)


def tabs_3x2(size: MenuSize, tab_count: int = 2) -> Layout:
    """A tab header row (``tab_count`` tabs), then 3 columns × 2 rows of tiles."""
    if tab_count < MIN_TABS:
        raise ValueError(f"タブ付きの配置にはタブが {MIN_TABS} 個以上必要です")
    return grid(size, 2, 3, tab_count)


LayoutFunction = Callable[[MenuSize, int], Layout]

# The standard layouts by name; each takes the size and the number of tabs (0: none).
LAYOUTS: dict[str, LayoutFunction] = {
    "3x3": grid_3x3,
    "2x3": grid_2x3,
    "4x3": grid_4x3,
    "tabs_3x2": tabs_3x2,
}


def check_layout(rects: Sequence[Rect], size: str) -> list[str]:
    """Problems with a set of areas (Japanese messages): out of the image, overlapping. Empty: fine."""
    width, height = image_size(size)
    problems = []
    for index, rect in enumerate(rects, start=1):
        if rect.width <= 0 or rect.height <= 0:
            problems.append(f"エリア {index} の幅か高さが 0 以下です")
        if rect.x < 0 or rect.y < 0 or rect.right > width or rect.bottom > height:
            problems.append(f"エリア {index} が画像（{width}×{height}）からはみ出しています")
        for other_index, other in enumerate(rects[index:], start=index + 1):
            if rect.overlaps(other):
                problems.append(f"エリア {index} と {other_index} が重なっています")
    return problems
