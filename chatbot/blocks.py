"""The blocks of チャットボットの回答 pages: extra choices besides the page's children.

The answer itself is the delivery composer's ``MessageStreamBlock`` (text, image, card, a page as a
card; 1 to 5 LINE messages), so staff write bot answers with the blocks they already know.
"""

from __future__ import annotations

from typing import Any

from wagtail import blocks

from deliveries.blocks import (
    BUTTON_LABEL_MAX,
    URI_MAX,
    CheckedStructBlock,
    _too_long,
    grapheme_len,
    page_errors,
)


def label_error(label: Any) -> str | None:
    if not isinstance(label, str):
        return None
    return _too_long("ボタンの文字", label, BUTTON_LABEL_MAX, grapheme_len)


class PageChoiceBlock(CheckedStructBlock):
    """A choice that opens a page: another answer (the conversation jumps there), a form (opens
    inside LINE through LIFF) or any other page of the site (opens as a link)."""

    label = blocks.CharBlock(label="ボタンの文字", help_text=f"{BUTTON_LABEL_MAX}文字まで。")
    page = blocks.PageChooserBlock(
        label="ページ",
        help_text=(
            "回答ページなら会話がそのページに進み、フォームは LINE の中で開き、"
            "ほかのページはリンクで開きます。"
        ),
    )

    def field_errors(self, value: Any) -> dict[str, str | None]:
        page = value.get("page")
        return {"label": label_error(value.get("label")), "page": page_errors(page) if page else None}

    class Meta:
        label = "ページへ進む"
        icon = "doc-full"


class UrlChoiceBlock(CheckedStructBlock):
    """A choice that opens an https URL (another site of the city, a map)."""

    label = blocks.CharBlock(label="ボタンの文字", help_text=f"{BUTTON_LABEL_MAX}文字まで。")
    url = blocks.URLBlock(label="URL", help_text="https:// で始まる URL。")

    def field_errors(self, value: Any) -> dict[str, str | None]:
        url = str(value.get("url") or "")
        problem = None
        if url and not url.lower().startswith("https://"):
            problem = "URL は https:// で始まるものにしてください（http のページは開けません）。"
        elif url:
            problem = _too_long("URL", url, URI_MAX)
        return {"label": label_error(value.get("label")), "url": problem}

    class Meta:
        label = "URL を開く"
        icon = "link"


class PhoneChoiceBlock(CheckedStructBlock):
    """A choice that calls a number (tel: link)."""

    label = blocks.CharBlock(label="ボタンの文字", help_text=f"{BUTTON_LABEL_MAX}文字まで。")
    number = blocks.RegexBlock(
        label="電話番号",
        regex=r"^[0-9+][0-9-]{3,20}$",
        error_messages={"invalid": "電話番号は数字とハイフンで入れてください（例: 0192-27-3111）。"},
    )

    def field_errors(self, value: Any) -> dict[str, str | None]:
        return {"label": label_error(value.get("label"))}

    class Meta:
        label = "電話をかける"
        icon = "mobile-alt"


class ChoiceStreamBlock(blocks.StreamBlock):
    page = PageChoiceBlock()
    url = UrlChoiceBlock()
    phone = PhoneChoiceBlock()

    class Meta:
        label = "追加の選択肢"
        required = False
