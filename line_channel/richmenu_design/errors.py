"""Errors of the rich-menu design set; all are ``ValueError`` so forms can show them as they are."""

from __future__ import annotations


class RichMenuDesignError(ValueError):
    """A menu that cannot be drawn as asked (bad size, too many areas, unknown icon …)."""


class FontMissing(RichMenuDesignError):
    """The Japanese font named by ``KAIRAN_RICHMENU_FONT`` is not on this machine."""

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(
            f"リッチメニューの画像に使う日本語フォントが見つかりません: {path}。"
            "Debian では `apt-get install fonts-noto-cjk` を実行するか、"
            "設定 KAIRAN_RICHMENU_FONT でフォントのパスを指定してください。"
        )
