"""Colour themes for rich-menu images, with the WCAG contrast arithmetic that checks them.

Every text colour must reach 4.5:1 against its background (WCAG 2.x AA for
normal text) and every icon colour 3:1 (AA for non-text graphics); the tests
compute both for each theme.
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import ImageColor


@dataclass(frozen=True)
class Theme:
    key: str
    name: str  # Japanese, shown to staff
    description: str  # Japanese, one line
    tile_background: str
    tile_text: str
    icon: str
    gap: str  # lines between tiles and the frame around them
    tab_strip: str  # behind the tabs
    tab_active_background: str
    tab_active_text: str
    tab_inactive_background: str
    tab_inactive_text: str
    emergency: bool = False

    def text_pairs(self) -> dict[str, tuple[str, str]]:
        """Each text colour with the background it is drawn on."""
        return {
            "tile": (self.tile_text, self.tile_background),
            "tab_active": (self.tab_active_text, self.tab_active_background),
            "tab_inactive": (self.tab_inactive_text, self.tab_inactive_background),
        }


THEMES: dict[str, Theme] = {
    theme.key: theme
    for theme in (
        Theme(
            key="sea",
            name="三陸の海",
            description="三陸の海をイメージした、深い青と青緑の配色",
            tile_background="#EEF7F8",
            tile_text="#0B2E4F",
            icon="#0B6E80",
            gap="#0B2E4F",
            tab_strip="#0B2E4F",
            tab_active_background="#2BB3C0",
            tab_active_text="#06243F",
            tab_inactive_background="#1D4A6E",
            tab_inactive_text="#FFFFFF",
        ),
        Theme(
            key="camellia",
            name="椿",
            description="市の花・椿の深紅と葉の緑、あたたかい白の配色",
            tile_background="#FFF9F2",
            tile_text="#2F3B2A",
            icon="#B0173A",
            gap="#2F5A3A",
            tab_strip="#2F5A3A",
            tab_active_background="#B0173A",
            tab_active_text="#FFFFFF",
            tab_inactive_background="#E9F0E4",
            tab_inactive_text="#2F3B2A",
        ),
        Theme(
            key="high_contrast",
            name="見やすさ重視",
            description="黒・白・黄のはっきりした配色（文字がいちばん読みやすい）",
            tile_background="#000000",
            tile_text="#FFFFFF",
            icon="#FFD400",
            gap="#FFFFFF",
            tab_strip="#000000",
            tab_active_background="#FFD400",
            tab_active_text="#000000",
            tab_inactive_background="#3A3A3A",
            tab_inactive_text="#FFFFFF",
        ),
        Theme(
            key="emergency",
            name="緊急（災害時）",
            description="災害時の切り替え用、赤と白のはっきりした配色",
            tile_background="#FFFFFF",
            tile_text="#7A0012",
            icon="#C8102E",
            gap="#C8102E",
            tab_strip="#7A0012",
            tab_active_background="#FFFFFF",
            tab_active_text="#7A0012",
            tab_inactive_background="#C8102E",
            tab_inactive_text="#FFFFFF",
            emergency=True,
        ),
    )
}

DEFAULT_THEME = "sea"
EMERGENCY_THEME = "emergency"

MIN_TEXT_CONTRAST = 4.5
MIN_ICON_CONTRAST = 3.0


def get_theme(key: str) -> Theme:
    try:
        return THEMES[key]
    except KeyError:
        raise ValueError(f"配色「{key}」はありません（使えるもの: {', '.join(THEMES)}）") from None


def relative_luminance(colour: str) -> float:
    """WCAG 2.x relative luminance of an sRGB colour ("#RRGGBB")."""

    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = ImageColor.getrgb(colour)[:3]
    return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)


def contrast_ratio(foreground: str, background: str) -> float:
    """WCAG contrast ratio, 1.0 (none) to 21.0 (black on white)."""
    lighter, darker = sorted((relative_luminance(foreground), relative_luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)
