"""The Japanese font of rich-menu images: a system font named by ``KAIRAN_RICHMENU_FONT``.

No font is kept in the repository; Debian's fonts-noto-cjk (Noto Sans CJK JP
Bold, SIL Open Font License) is the default.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from django.conf import settings
from PIL import ImageFont

from .errors import FontMissing, RichMenuDesignError

FontType = ImageFont.FreeTypeFont


def font_path() -> str:
    return str(settings.KAIRAN_RICHMENU_FONT)


@lru_cache(maxsize=256)
def _load(path: str, size: int) -> FontType:
    # Index 0 of Noto Sans CJK's collection is the Japanese (JP) face.
    return ImageFont.truetype(path, size, index=0)


def load_font(size: int) -> FontType:
    """The configured font at ``size`` pixels; :class:`FontMissing` when the file is not there."""
    path = font_path()
    if not Path(path).is_file():
        raise FontMissing(path)
    try:
        return _load(path, size)
    except OSError as exc:
        raise RichMenuDesignError(
            f"リッチメニューの画像に使うフォントを読み込めません: {path}（{exc}）。"
            "設定 KAIRAN_RICHMENU_FONT に TrueType / OpenType フォントのパスを指定してください。"
        ) from exc
