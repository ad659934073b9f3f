"""A tiny shape language for single-colour pictograms in a 100×100 view box.

An icon is a sequence of primitives painted in order onto one coverage mask:
a primitive either *paints* (adds ink) or *cuts* (``cut=True``: removes the ink
painted before it, e.g. the eyes in the bear's face). A primitive is either
filled or, with ``stroke`` > 0, outlined with round caps and joins.

The same list gives two outputs: SVG markup (:func:`svg_elements`) and a Pillow
coverage mask at any pixel size (:func:`rasterise`), so the committed SVG files
and the rich-menu images always show the same drawing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from PIL import Image, ImageDraw

Point = tuple[float, float]

VIEW_BOX = 100
SUPERSAMPLE = 4  # masks are drawn this many times larger, then averaged down (anti-aliasing)


@dataclass(frozen=True)
class Circle:
    cx: float
    cy: float
    r: float
    stroke: float = 0
    cut: bool = False


@dataclass(frozen=True)
class Ellipse:
    cx: float
    cy: float
    rx: float
    ry: float
    stroke: float = 0
    cut: bool = False


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    radius: float = 0
    stroke: float = 0
    cut: bool = False


@dataclass(frozen=True)
class Polygon:
    points: tuple[Point, ...]
    stroke: float = 0
    cut: bool = False


@dataclass(frozen=True)
class Polyline:
    """An open line; always stroked (``stroke`` is its width)."""

    points: tuple[Point, ...]
    stroke: float
    cut: bool = False


@dataclass(frozen=True)
class Arc:
    """A stroked circular arc; angles in degrees, 0 = 3 o'clock, clockwise (y points down)."""

    cx: float
    cy: float
    r: float
    start: float
    end: float
    stroke: float
    cut: bool = False


@dataclass(frozen=True)
class Pie:
    """A filled circle sector, angles as for :class:`Arc`."""

    cx: float
    cy: float
    r: float
    start: float
    end: float
    cut: bool = False


Shape = Circle | Ellipse | Rect | Polygon | Polyline | Arc | Pie


def has_cuts(shapes: Iterable[Shape]) -> bool:
    return any(shape.cut for shape in shapes)


# --- SVG -------------------------------------------------------------------------------------------


def num(value: float) -> str:
    """A coordinate for SVG: at most two decimals, no trailing zeros ("12", "3.5", "-0.25")."""
    text = f"{round(value, 2):.2f}".rstrip("0").rstrip(".")
    return "0" if text in {"-0", ""} else text


def _points(points: Sequence[Point]) -> str:
    return " ".join(f"{num(x)},{num(y)}" for x, y in points)


def _on_circle(cx: float, cy: float, r: float, degrees: float) -> Point:
    radians = math.radians(degrees)
    return cx + r * math.cos(radians), cy + r * math.sin(radians)


def _arc_path(cx: float, cy: float, r: float, start: float, end: float) -> tuple[str, str]:
    """The move-to and the arc command of an SVG path from ``start`` to ``end`` (clockwise)."""
    sweep = (end - start) % 360 or 360
    x1, y1 = _on_circle(cx, cy, r, start)
    x2, y2 = _on_circle(cx, cy, r, start + sweep)
    large = 1 if sweep > 180 else 0
    return f"M{num(x1)} {num(y1)}", f"A{num(r)} {num(r)} 0 {large} 1 {num(x2)} {num(y2)}"


def _paint(colour: str, stroke: float) -> str:
    if stroke:
        return f'fill="none" stroke="{colour}" stroke-width="{num(stroke)}"'
    return f'fill="{colour}"'


def svg_element(shape: Shape, colour: str) -> str:
    """One primitive as an SVG element painted with ``colour``."""
    if isinstance(shape, Circle):
        return (
            f'<circle cx="{num(shape.cx)}" cy="{num(shape.cy)}" r="{num(shape.r)}" '
            f"{_paint(colour, shape.stroke)}/>"
        )
    if isinstance(shape, Ellipse):
        return (
            f'<ellipse cx="{num(shape.cx)}" cy="{num(shape.cy)}" rx="{num(shape.rx)}" '
            f'ry="{num(shape.ry)}" {_paint(colour, shape.stroke)}/>'
        )
    if isinstance(shape, Rect):
        corner = f' rx="{num(shape.radius)}"' if shape.radius else ""
        return (
            f'<rect x="{num(shape.x)}" y="{num(shape.y)}" width="{num(shape.width)}" '
            f'height="{num(shape.height)}"{corner} {_paint(colour, shape.stroke)}/>'
        )
    if isinstance(shape, Polygon):
        return f'<polygon points="{_points(shape.points)}" {_paint(colour, shape.stroke)}/>'
    if isinstance(shape, Polyline):
        return f'<polyline points="{_points(shape.points)}" {_paint(colour, shape.stroke)}/>'
    if isinstance(shape, Arc):
        move, arc = _arc_path(shape.cx, shape.cy, shape.r, shape.start, shape.end)
        return f'<path d="{move} {arc}" {_paint(colour, shape.stroke)}/>'
    move, arc = _arc_path(shape.cx, shape.cy, shape.r, shape.start, shape.end)
    return f'<path d="M{num(shape.cx)} {num(shape.cy)} L{move[1:]} {arc} Z" fill="{colour}"/>'


def svg_elements(shapes: Sequence[Shape], colour: str, mask_id: str) -> list[str]:
    """The body of an SVG for ``shapes``: plain elements, or a mask when some shapes cut."""
    if not has_cuts(shapes):
        return [svg_element(shape, colour) for shape in shapes]
    lines = [
        "<defs>",
        f'<mask id="{mask_id}" maskUnits="userSpaceOnUse" x="0" y="0" width="100" height="100">',
    ]
    lines += [svg_element(shape, "#000" if shape.cut else "#fff") for shape in shapes]
    lines += [
        "</mask>",
        "</defs>",
        f'<rect width="100" height="100" fill="{colour}" mask="url(#{mask_id})"/>',
    ]
    return lines


# --- Pillow ---------------------------------------------------------------------------------------


class _Painter:
    """Draws primitives onto an "L" mask, ``scale`` pixels per view-box unit."""

    def __init__(self, mask: Image.Image, scale: float) -> None:
        self.draw = ImageDraw.Draw(mask)
        self.scale = scale

    def _xy(self, point: Point) -> tuple[float, float]:
        return point[0] * self.scale, point[1] * self.scale

    def _width(self, stroke: float) -> int:
        return max(1, round(stroke * self.scale))

    def _box(self, cx: float, cy: float, rx: float, ry: float) -> tuple[float, float, float, float]:
        s = self.scale
        return (cx - rx) * s, (cy - ry) * s, (cx + rx) * s, (cy + ry) * s

    def _dot(self, point: Point, diameter: float, ink: int) -> None:
        r = diameter / 2
        self.draw.ellipse(self._box(point[0], point[1], r, r), fill=ink)

    def _line(self, points: Sequence[Point], stroke: float, ink: int) -> None:
        self.draw.line([self._xy(p) for p in points], fill=ink, width=self._width(stroke), joint="curve")
        for point in points:  # round caps and joins, as stroke-linecap/linejoin="round" in the SVG
            self._dot(point, stroke, ink)

    def paint(self, shape: Shape) -> None:
        ink = 0 if shape.cut else 255
        if isinstance(shape, Circle | Ellipse):
            rx, ry = (shape.r, shape.r) if isinstance(shape, Circle) else (shape.rx, shape.ry)
            if shape.stroke:
                half = shape.stroke / 2
                box = self._box(shape.cx, shape.cy, rx + half, ry + half)
                self.draw.ellipse(box, outline=ink, width=self._width(shape.stroke))
            else:
                self.draw.ellipse(self._box(shape.cx, shape.cy, rx, ry), fill=ink)
        elif isinstance(shape, Rect):
            half = shape.stroke / 2
            x0, y0 = self._xy((shape.x - half, shape.y - half))
            x1, y1 = self._xy((shape.x + shape.width + half, shape.y + shape.height + half))
            radius = (shape.radius + half) * self.scale if shape.radius else 0
            if shape.stroke:
                self.draw.rounded_rectangle(
                    (x0, y0, x1, y1), radius=radius, outline=ink, width=self._width(shape.stroke)
                )
            else:
                self.draw.rounded_rectangle((x0, y0, x1, y1), radius=radius, fill=ink)
        elif isinstance(shape, Polygon):
            if shape.stroke:
                self._line([*shape.points, shape.points[0]], shape.stroke, ink)
            else:
                self.draw.polygon([self._xy(p) for p in shape.points], fill=ink)
        elif isinstance(shape, Polyline):
            self._line(shape.points, shape.stroke, ink)
        elif isinstance(shape, Arc):
            half = shape.stroke / 2
            box = self._box(shape.cx, shape.cy, shape.r + half, shape.r + half)
            self.draw.arc(box, shape.start, shape.end, fill=ink, width=self._width(shape.stroke))
            for angle in (shape.start, shape.end):
                self._dot(_on_circle(shape.cx, shape.cy, shape.r, angle), shape.stroke, ink)
        else:
            box = self._box(shape.cx, shape.cy, shape.r, shape.r)
            self.draw.pieslice(box, shape.start, shape.end, fill=ink)


def rasterise(shapes: Sequence[Shape], size: int) -> Image.Image:
    """An anti-aliased "L" coverage mask of ``size``×``size`` pixels (255 = ink)."""
    big = size * SUPERSAMPLE
    mask = Image.new("L", (big, big), 0)
    painter = _Painter(mask, big / VIEW_BOX)
    for shape in shapes:
        painter.paint(shape)
    return mask.resize((size, size), Image.Resampling.BOX)
