"""The design files delivered with the repository (``design/``): icons as SVG and PNG, sample menus.

``manage.py build_design_assets`` calls :func:`build_assets`; the SVGs are
byte-for-byte what :func:`icons.icon_svg` returns (a test keeps them in step).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from .icons import ICONS, icon_image, icon_svg
from .layouts import LAYOUTS, MenuSize
from .render import render_menu
from .themes import EMERGENCY_THEME, THEMES

ASSET_ICON_COLOUR = "#000000"  # single colour of design/icons; recolour freely
ICON_PNG_SIZE = 192

SAMPLE_TABS = ("くらし", "防災・緊急")
LARGE_ITEMS: tuple[tuple[str, str | None], ...] = (
    ("ごみ・リサイクル", "garbage"),
    ("子育て", "childcare"),
    ("健康・検診", "health"),
    ("予約", "reservation"),
    ("通報", "report"),
    ("アンケート", "survey"),
    ("観光", "tourism"),
    ("市ホームページ", "homepage"),
    ("受信設定", "settings"),
)
COMPACT_ITEMS: tuple[tuple[str, str | None], ...] = (
    ("ごみ・リサイクル", "garbage"),
    ("防災", "disaster"),
    ("クマ出没", "bear"),
    ("道路・公園", "roads"),
    ("問い合わせ", "contact"),
    ("受信設定", "settings"),
)
EMERGENCY_ITEMS: tuple[tuple[str, str | None], ...] = (
    ("避難所", "shelter"),
    ("防災情報", "disaster"),
    ("安否確認", "safety"),
    ("気象・河川", "weather"),
    ("市からのお知らせ", "notice"),
    ("電話", "phone"),
)


@dataclass(frozen=True)
class Sample:
    file_name: str
    size: MenuSize
    layout: str
    items: tuple[tuple[str, str | None], ...]
    theme: str
    tabs: tuple[str, ...] = ()


def samples() -> list[Sample]:
    """The sample menus: per everyday theme a large 3×3 with tabs and a compact 2×3; one emergency menu."""
    result = []
    for key, theme in THEMES.items():
        if theme.emergency:
            continue
        result.append(Sample(f"{key}-large-3x3-tabs.png", "large", "3x3", LARGE_ITEMS, key, SAMPLE_TABS))
        result.append(Sample(f"{key}-compact-2x3.png", "compact", "2x3", COMPACT_ITEMS, key))
    result.append(
        Sample(f"{EMERGENCY_THEME}-large-2x3.png", "large", "2x3", EMERGENCY_ITEMS, EMERGENCY_THEME)
    )
    return result


def render_sample(sample: Sample) -> bytes:
    layout = LAYOUTS[sample.layout](sample.size, len(sample.tabs))
    return render_menu(
        size=sample.size,
        areas=layout.areas(sample.items),
        tabs=list(sample.tabs) or None,
        active_tab=0,
        theme=sample.theme,
        palette=True,
    )


def _write(path: Path, data: bytes, written: list[Path]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_bytes() != data:
        path.write_bytes(data)
    written.append(path)


def _remove_stale(folder: Path, pattern: str, keep: list[Path]) -> list[Path]:
    stale = [path for path in sorted(folder.glob(pattern)) if path not in keep]
    for path in stale:
        path.unlink()
    return stale


def build_assets(design_dir: Path) -> tuple[list[Path], list[Path]]:
    """(Re)write ``design_dir``/icons and ``design_dir``/samples; returns (written, removed) files."""
    written: list[Path] = []
    icons_dir, png_dir, samples_dir = (
        design_dir / "icons",
        design_dir / "icons" / "png",
        design_dir / "samples",
    )
    for name in ICONS:
        _write(icons_dir / f"{name}.svg", icon_svg(name, ASSET_ICON_COLOUR).encode(), written)
        buffer = io.BytesIO()
        icon_image(name, ICON_PNG_SIZE, ASSET_ICON_COLOUR).save(buffer, "PNG", optimize=True)
        _write(png_dir / f"{name}.png", buffer.getvalue(), written)
    for sample in samples():
        _write(samples_dir / sample.file_name, render_sample(sample), written)
    removed = _remove_stale(icons_dir, "*.svg", written)
    removed += _remove_stale(png_dir, "*.png", written)
    removed += _remove_stale(samples_dir, "*.png", written)
    return written, removed
