"""The rich-menu design set: icons, themes, layouts, the image renderer and the files in design/."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import override_settings
from PIL import Image, ImageColor

from line_channel.richmenu_design.assets import ASSET_ICON_COLOUR, ICON_PNG_SIZE, samples
from line_channel.richmenu_design.errors import FontMissing, RichMenuDesignError
from line_channel.richmenu_design.icons import ICONS, REQUIRED_ICONS, draw_icon, icon_mask, icon_svg
from line_channel.richmenu_design.layouts import (
    MAX_AREAS,
    SIZES,
    TAB_HEADER_HEIGHT,
    Area,
    check_layout,
    grid,
    tab_rects,
)
from line_channel.richmenu_design.render import LAYOUTS, MAX_BYTES, render_menu, tab_shape
from line_channel.richmenu_design.text import fit_text, text_width
from line_channel.richmenu_design.themes import (
    MIN_ICON_CONTRAST,
    MIN_TEXT_CONTRAST,
    THEMES,
    contrast_ratio,
)

REPO = Path(__file__).resolve().parents[2]
DESIGN = REPO / "design"
SVG_NS = "{http://www.w3.org/2000/svg}"
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")

EXPECTED_LABELS = {
    "garbage": "ごみ・リサイクル",
    "disaster": "防災",
    "shelter": "避難所",
    "childcare": "子育て",
    "health": "健康・検診",
    "reservation": "予約",
    "report": "通報",
    "survey": "アンケート",
    "homepage": "市ホームページ",
    "tourism": "観光",
    "settings": "受信設定",
    "contact": "問い合わせ",
    "roads": "道路・公園",
    "bear": "クマ出没",
    "phone": "電話",
    "safety": "安否確認",
    "weather": "気象・河川",
    "notice": "市からのお知らせ",
}

LONG_LABELS = [
    "市からのお知らせ・緊急情報の一覧",
    "ごみの分別・収集日カレンダー",
    "子育て支援センターのイベント予約",
    "クマ出没情報（目撃・痕跡）",
    "道路・公園・街灯の不具合を通報",
    "アンケート",
    "市ホームページ",
    "避難所の開設状況と混雑",
]


def _open(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    return image


def _rgb(colour: str) -> tuple[int, ...]:
    return tuple(ImageColor.getrgb(colour)[:3])


def _busy_areas(layout_rows: int, layout_cols: int, tab_count: int = 0) -> tuple[list[Area], list[str]]:
    layout = grid("large", layout_rows, layout_cols, tab_count)
    names = list(ICONS)
    items = [(LONG_LABELS[i % len(LONG_LABELS)], names[i % len(names)]) for i in range(len(layout.tiles))]
    return layout.areas(items), [f"タブ{i + 1}" for i in range(tab_count)]


# --- Icons ----------------------------------------------------------------------------------------


def test_every_required_icon_exists_with_its_japanese_label() -> None:
    assert set(REQUIRED_ICONS) == set(EXPECTED_LABELS)
    for name, label in EXPECTED_LABELS.items():
        assert name in ICONS, name
        assert ICONS[name].label == label
        assert JAPANESE.search(ICONS[name].label)


@pytest.mark.parametrize("name", sorted(ICONS))
def test_icon_svg_is_single_colour_xml_in_a_100_box(name: str) -> None:
    svg = icon_svg(name, "#123456")
    root = ET.fromstring(svg)  # noqa: S314 (our own markup, not untrusted input)
    assert root.tag == f"{SVG_NS}svg"
    assert root.get("viewBox") == "0 0 100 100"
    title = root.find(f"{SVG_NS}title")
    assert title is not None and title.text == ICONS[name].label
    colours = set(re.findall(r'(?:fill|stroke)="(#[0-9A-Fa-f]{3,6})"', svg)) - {"#fff", "#000"}
    assert colours == {"#123456"}
    assert icon_svg(name, "#123456") == svg  # deterministic


@pytest.mark.parametrize("name", sorted(ICONS))
def test_icon_raster_has_ink_inside_its_margins(name: str) -> None:
    mask = icon_mask(name, 200)
    assert mask.size == (200, 200)
    histogram = mask.histogram()
    inked = sum(histogram[128:]) / (200 * 200)
    assert 0.08 < inked < 0.75, f"{name}: {inked:.0%} of the box is ink"
    left, top, right, bottom = mask.getbbox() or (0, 0, 0, 0)
    assert left >= 4 and top >= 4 and right <= 196 and bottom <= 196


def test_draw_icon_on_rgb_and_rgba_images() -> None:
    rgb = Image.new("RGB", (300, 200), "white")
    draw_icon(rgb, "bear", (0, 0, 300, 200), "#C8102E")
    assert rgb.getpixel((150, 110)) == (200, 16, 46)  # the face, centred in the box
    assert rgb.getpixel((20, 100)) == (255, 255, 255)  # beside the square
    rgba = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
    draw_icon(rgba, "shelter", (0, 0, 100, 100), "#0B6E80")
    assert rgba.getpixel((50, 30)) == (11, 110, 128, 255)
    assert rgba.getchannel("A").getpixel((2, 2)) == 0


# --- The files in design/ -------------------------------------------------------------------------


def test_committed_svgs_equal_the_code() -> None:
    for name in ICONS:
        path = DESIGN / "icons" / f"{name}.svg"
        assert path.read_text(encoding="utf-8") == icon_svg(name, ASSET_ICON_COLOUR), (
            f"{path} is out of date: run `manage.py build_design_assets`"
        )
    assert {path.stem for path in (DESIGN / "icons").glob("*.svg")} == set(ICONS)


def test_committed_pngs_and_samples_are_there() -> None:
    for name in ICONS:
        with Image.open(DESIGN / "icons" / "png" / f"{name}.png") as image:
            assert image.size == (ICON_PNG_SIZE, ICON_PNG_SIZE)
            assert image.mode == "RGBA"
    for sample in samples():
        path = DESIGN / "samples" / sample.file_name
        assert path.stat().st_size < MAX_BYTES
        with Image.open(path) as image:
            assert image.size == SIZES[sample.size]
    total = sum(path.stat().st_size for path in DESIGN.rglob("*") if path.is_file())
    assert total < 3_000_000
    assert (DESIGN / "README.md").is_file()


def test_build_command_rewrites_the_same_svgs(tmp_path: Path) -> None:
    call_command("build_design_assets", output=tmp_path, stdout=io.StringIO())
    for path in (DESIGN / "icons").glob("*.svg"):
        assert (tmp_path / "icons" / path.name).read_bytes() == path.read_bytes()
    written = sorted(p.name for p in (tmp_path / "samples").iterdir())
    assert written == sorted(sample.file_name for sample in samples())
    # A file the code no longer makes is removed on the next run.
    (tmp_path / "icons" / "old.svg").write_text("<svg/>")
    call_command("build_design_assets", output=tmp_path, stdout=io.StringIO())
    assert not (tmp_path / "icons" / "old.svg").exists()


# --- Themes ---------------------------------------------------------------------------------------


def test_contrast_ratio_arithmetic() -> None:
    assert contrast_ratio("#000000", "#FFFFFF") == pytest.approx(21.0)
    assert contrast_ratio("#FFFFFF", "#000000") == pytest.approx(21.0)
    assert contrast_ratio("#767676", "#FFFFFF") == pytest.approx(4.54, abs=0.01)
    assert contrast_ratio("#C8102E", "#C8102E") == pytest.approx(1.0)


def test_required_themes_exist() -> None:
    assert {"sea", "camellia", "high_contrast", "emergency"} <= set(THEMES)
    assert THEMES["emergency"].emergency
    for theme in THEMES.values():
        assert JAPANESE.search(theme.name)


@pytest.mark.parametrize("key", sorted(THEMES))
def test_theme_text_and_icons_reach_wcag_aa(key: str) -> None:
    theme = THEMES[key]
    assert contrast_ratio(theme.tile_text, theme.tile_background) >= MIN_TEXT_CONTRAST
    for where, (text, background) in theme.text_pairs().items():
        ratio = contrast_ratio(text, background)
        assert ratio >= MIN_TEXT_CONTRAST, f"{key} {where}: {ratio:.2f}"
    assert contrast_ratio(theme.icon, theme.tile_background) >= MIN_ICON_CONTRAST
    # The selected tab stands out from the others by more than its hue.
    assert contrast_ratio(theme.tab_active_background, theme.tab_inactive_background) >= 3.0


# --- Layouts --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "tab_count", "tiles"),
    [("3x3", 0, 9), ("2x3", 0, 6), ("4x3", 0, 12), ("tabs_3x2", 2, 6), ("tabs_3x2", 5, 6), ("3x3", 2, 9)],
)
@pytest.mark.parametrize("size", ["large", "compact"])
def test_layouts_cover_the_image_without_overlap(name: str, tab_count: int, tiles: int, size: str) -> None:
    layout = LAYOUTS[name](size, tab_count)  # type: ignore[arg-type]
    width, height = SIZES[size]
    assert len(layout.tiles) == tiles
    assert len(layout.tabs) == tab_count
    assert check_layout(layout.rects, size) == []
    assert sum(r.width * r.height for r in layout.rects) == width * height  # no gaps either
    header = TAB_HEADER_HEIGHT[size] if tab_count else 0
    assert all(tab.y == 0 and tab.bottom == header for tab in layout.tabs)
    assert min(tile.y for tile in layout.tiles) == header


def test_layout_limits() -> None:
    assert LAYOUTS["4x3"]("large", 0).tiles[3].right == 2500  # 4 columns
    with pytest.raises(ValueError, match="タブ"):
        LAYOUTS["tabs_3x2"]("large", 0)
    with pytest.raises(ValueError, match="タブ"):
        tab_rects("large", 6)
    with pytest.raises(ValueError, match=str(MAX_AREAS)):
        grid("large", 4, 5, tab_count=2)
    assert check_layout([grid("large", 1, 2).tiles[0]] * 2, "large") == ["エリア 1 と 2 が重なっています"]


# --- Rendering ------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", ["large", "compact"])
@pytest.mark.parametrize("theme", sorted(THEMES))
def test_render_gives_line_sized_png(size: str, theme: str) -> None:
    layout = LAYOUTS["2x3"](size, 0)  # type: ignore[arg-type]
    areas = layout.areas([(EXPECTED_LABELS[n], n) for n in list(EXPECTED_LABELS)[:6]])
    png = render_menu(size=size, areas=areas, tabs=None, active_tab=0, theme=theme)  # type: ignore[arg-type]
    assert len(png) < MAX_BYTES
    with _open(png) as image:
        assert image.size == SIZES[size]
        tile = areas[0]
        assert image.convert("RGB").getpixel((tile.x + 30, tile.y + 30)) == _rgb(
            THEMES[theme].tile_background
        )


@pytest.mark.parametrize(("rows", "cols", "tabs"), [(4, 5, 0), (3, 6, 2)])
def test_busy_twenty_area_menu_stays_under_one_megabyte(rows: int, cols: int, tabs: int) -> None:
    areas, tab_labels = _busy_areas(rows, cols, tabs)
    assert len(areas) + len(tab_labels) == MAX_AREAS
    png = render_menu(size="large", areas=areas, tabs=tab_labels or None, active_tab=0, theme="high_contrast")
    assert len(png) < MAX_BYTES
    with _open(png) as image:
        assert image.size == (2500, 1686)


def test_one_area_too_many_is_refused() -> None:
    areas, tabs = _busy_areas(3, 6, 2)
    extra = Area(0, 0, 10, 10, "余分")
    with pytest.raises(RichMenuDesignError, match="20"):
        render_menu(size="large", areas=[*areas, extra], tabs=tabs, active_tab=0, theme="sea")


@pytest.mark.parametrize("palette", [False, True])
@pytest.mark.parametrize("theme", sorted(THEMES))
def test_active_tab_is_highlighted(theme: str, palette: bool) -> None:
    tabs = ["くらし", "防災・緊急", "観光"]
    layout = LAYOUTS["tabs_3x2"]("large", len(tabs))
    areas = layout.areas([(EXPECTED_LABELS[n], n) for n in list(EXPECTED_LABELS)[:6]])
    png = render_menu(size="large", areas=areas, tabs=tabs, active_tab=1, theme=theme, palette=palette)
    chosen = THEMES[theme]
    with _open(png) as opened:
        image = opened.convert("RGB")
    active_top = tab_shape("large", len(tabs), 1, True)[1]
    for index in range(len(tabs)):
        active = index == 1
        left, _, right, bottom = tab_shape("large", len(tabs), index, active)
        assert layout.tabs[index].x <= left < right < layout.tabs[index].right
        pixel = image.getpixel((left + 12, bottom - 4))  # inside the shape, below its label
        if active:
            assert pixel == _rgb(chosen.tab_active_background)
            assert image.getpixel((left + 40, active_top + 4)) == _rgb(chosen.tab_active_background)
        else:
            assert pixel == _rgb(chosen.tab_inactive_background)
            assert pixel != _rgb(chosen.tab_active_background)
            # The active tab is also taller: above an inactive tab's shape is the strip.
            assert image.getpixel((left + 40, active_top + 4)) == _rgb(chosen.tab_strip)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tabs": ["1", "2", "3", "4", "5", "6"]}, "タブは"),
        ({"tabs": ["くらし"]}, "タブは"),
        ({"tabs": ["くらし", "防災"], "active_tab": 2}, "選択中のタブ"),
        ({"areas": [Area(2400, 0, 200, 100, "はみ出し")]}, "はみ出し"),
        ({"areas": [Area(0, 0, 100, 100, "謎", "unicorn")]}, "unicorn"),
        ({"theme": "rainbow"}, "rainbow"),
        ({"size": "huge"}, "large か compact"),
    ],
)
def test_bad_requests_are_refused_in_japanese(kwargs: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {
        "size": "large",
        "areas": [],
        "tabs": None,
        "active_tab": 0,
        "theme": "sea",
    }
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message):
        render_menu(**arguments)  # type: ignore[arg-type]


def test_missing_font_names_the_path_and_the_fix() -> None:
    missing = "/nonexistent/fonts/NotoSansCJK-Bold.ttc"
    areas = LAYOUTS["2x3"]("compact", 0).areas([("防災", "disaster")] * 6)
    with override_settings(KAIRAN_RICHMENU_FONT=missing), pytest.raises(FontMissing) as caught:
        render_menu(size="compact", areas=areas, tabs=None, active_tab=0, theme="sea")
    assert isinstance(caught.value, ValueError)
    assert caught.value.path == missing
    assert missing in str(caught.value)
    assert "fonts-noto-cjk" in str(caught.value) and "KAIRAN_RICHMENU_FONT" in str(caught.value)


# --- Label fitting --------------------------------------------------------------------------------


def test_short_label_keeps_one_line_at_the_largest_size() -> None:
    fitted = fit_text("予約", max_width=600, max_size=64, min_size=26)
    assert fitted == fitted.__class__(64, ("予約",))


def test_long_label_wraps_at_the_middle_dot() -> None:
    fitted = fit_text("ごみ・リサイクル", max_width=300, max_size=64, min_size=26)
    assert fitted.lines == ("ごみ・", "リサイクル")


@pytest.mark.parametrize("label", LONG_LABELS)
def test_long_labels_fit_their_width_in_two_lines(label: str) -> None:
    fitted = fit_text(label, max_width=420, max_size=60, min_size=26)
    assert 1 <= len(fitted.lines) <= 2
    for line in fitted.lines:
        assert text_width(line, fitted.size) <= 420
        assert not line.startswith(("ー", "・", "）"))


def test_label_too_long_for_two_lines_is_shortened() -> None:
    fitted = fit_text("大船渡市" * 20, max_width=300, max_size=60, min_size=26)
    assert fitted.size == 26 and len(fitted.lines) == 2
    assert fitted.lines[1].endswith("…")
    assert all(text_width(line, 26) <= 300 for line in fitted.lines)
