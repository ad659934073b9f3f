"""The messages of a 配信 as a StreamField: one block per kind of LINE message, staff never write JSON.

Each block becomes exactly one LINE message object (``deliveries.line_messages``), so the stream's
``max_num`` is LINE's limit of 5 message objects per request. Limits are LINE's (see the constants)
and are checked here, with Japanese errors on the field concerned, so a delivery that saves is one
LINE accepts. Lengths are counted as LINE counts them ("Character counting in a text", LINE
Developers): UTF-16 code units for texts (an emoji such as 🍎 is 2), grapheme clusters for action
labels and ``displayText`` (👨‍👩‍👧 is 1).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from PIL import Image as PILImage
from wagtail import blocks
from wagtail.blocks.list_block import ListBlockValidationError
from wagtail.blocks.struct_block import StructBlockValidationError
from wagtail.images.blocks import ImageChooserBlock

# --- LINE's limits ---------------------------------------------------------------------------------

MAX_MESSAGES = 5  # message objects per request (facts sheet; line_channel.outbox.MAX_MESSAGES)
TEXT_MAX = 5000  # text message, UTF-16 code units (facts sheet; LINE "Character counting")
ALT_TEXT_MAX = 400  # flex altText, UTF-16 (facts sheet and the emulator; LINE now documents 1500)
IMAGE_MAX_BYTES = 10_000_000  # image message original: JPEG/PNG, 10 MB, no pixel limit (LINE, May 2020)
PREVIEW_MAX_BYTES = 1_000_000  # image message preview: JPEG/PNG, 1 MB, no pixel limit
URI_MAX = 1000  # uri action (LINE action objects; emulator)
POSTBACK_DATA_MAX = 300  # postback data (LINE: 300 characters; counted as UTF-16, the stricter count)
DISPLAY_TEXT_MAX = 300  # postback displayText, grapheme clusters
# Our own, stricter than LINE (Flex text has no length limit of its own, only 30 KB per bubble):
TITLE_MAX = 40  # a headline that fits two lines of a bubble; LINE's own title limit for template cards
BODY_MAX = 500  # about a screen of a phone; longer belongs in a text message or a page
BUTTON_LABEL_MAX = 20  # LINE allows 40 in Flex, but a button shows ~20 full-width characters, then "…"
BUTTONS_MAX = 4  # as LINE's buttons template; more buttons make a card that scrolls off the screen
IMAGE_ALT_MAX = 200  # not sent to LINE: the preview's and the history's description of the image

LINE_IMAGE_FORMATS = {"JPEG": "jpeg", "MPO": "jpeg", "PNG": "png"}  # Pillow's name -> ours (MPO is JPEG)
# Renditions (Wagtail makes and caches them): what LINE fetches.
ORIGINAL_SPECS = {"jpeg": "max-2048x2048|format-jpeg|jpegquality-85", "png": "max-2048x2048|format-png"}
PREVIEW_SPEC = "max-800x800|bgcolor-ffffff|format-jpeg|jpegquality-80"
HERO_SPEC = "fill-1000x650|bgcolor-ffffff|format-jpeg|jpegquality-80"  # 20:13, Flex images ≤ 1024 px
DEFAULT_PAGE_BUTTON = "詳しく見る"
NOT_LIVE = "公開されていないページは送れません。"


# --- counting as LINE counts -----------------------------------------------------------------------


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units: how the Messaging API counts texts (🍎 is 2)."""
    return len(text.encode("utf-16-le")) // 2


def _joins(char: str, previous: str) -> bool:
    """Whether ``char`` belongs to the grapheme cluster that ``previous`` ends."""
    code = ord(char)
    return (
        (previous == "\r" and char == "\n")
        or previous == "\u200d"  # after a zero width joiner
        or char == "\u200d"
        or unicodedata.category(char) in ("Mn", "Me", "Mc")
        or 0xFE00 <= code <= 0xFE0F  # variation selectors
        or 0xE0100 <= code <= 0xE01EF
        or 0x1F3FB <= code <= 0x1F3FF  # skin tones
        or 0xE0020 <= code <= 0xE007F  # tags (subdivision flags)
    )


def grapheme_len(text: str) -> int:
    """Grapheme clusters (UAX #29 as far as messages need it): how LINE counts action labels."""
    count, previous, flag_open = 0, "", False
    for char in text:
        regional = 0x1F1E6 <= ord(char) <= 0x1F1FF
        if previous and _joins(char, previous):
            pass
        elif flag_open and regional:
            flag_open = False
        else:
            count += 1
            flag_open = regional
        previous = char
    return count


def _too_long(what: str, text: str, limit: int, count: Any = utf16_len) -> str | None:
    length = count(text)
    if length > limit:
        return f"{what}は{limit}文字以内にしてください（現在 {length} 文字）。"
    return None


# --- images and pages ---------------------------------------------------------------------------


def image_format(image: Any) -> str | None:
    """``jpeg`` or ``png`` for an image LINE can show, the format's name for others, None if unreadable."""
    try:
        with image.open_file() as handle, PILImage.open(handle) as picture:
            name = (picture.format or "").upper()
    except (OSError, ValueError, PILImage.DecompressionBombError):  # OSError: Wagtail's SourceImageIOError
        return None
    return LINE_IMAGE_FORMATS.get(name, name or None)


def original_spec(image: Any) -> str:
    """The rendition sent as ``originalContentUrl``: PNG stays PNG (transparency), the rest is JPEG.
    The file's extension says which (Wagtail refuses uploads whose extension and format differ)."""
    return ORIGINAL_SPECS["png" if str(image.file.name).lower().endswith(".png") else "jpeg"]


def _rendition_size(image: Any, spec: str) -> int:
    return int(image.get_rendition(spec).file.size)


def image_errors(image: Any, *, message_image: bool = False) -> str | None:
    """Why LINE cannot take this image: not JPEG/PNG, unreadable, or (image messages) too large."""
    if image is None:
        return None
    kind = image_format(image)
    if kind is None:
        return "画像のファイルを読み込めません。画像を選び直してください。"
    if kind not in ("jpeg", "png"):
        return f"LINE で送れる画像は JPEG か PNG だけです（この画像は {kind} です）。"
    if not message_image:
        return None  # cards show a small JPEG rendition (HERO_SPEC)
    try:
        original = _rendition_size(image, original_spec(image))
        preview = _rendition_size(image, PREVIEW_SPEC)
    except OSError:  # the file is gone (Wagtail's SourceImageIOError)
        return "画像のファイルを読み込めません。画像を選び直してください。"
    if original > IMAGE_MAX_BYTES:
        return (
            f"LINE に送る画像が {original / 1_000_000:.1f} MB になり、上限の 10 MB を超えます。"
            "JPEG で保存し直すか、小さい画像にしてください。"
        )
    if preview > PREVIEW_MAX_BYTES:
        return "画像の縮小版が 1 MB を超えます。JPEG で保存し直してください。"
    return None


def page_errors(page: Any) -> str | None:
    """Why a chosen page cannot be sent: not live, or outside the site (no URL)."""
    if page is None:
        return None
    if not page.live:
        return NOT_LIVE
    if page.get_url_parts() is None:
        return "このページはサイトの中にないため送れません。"
    return None


# --- blocks -------------------------------------------------------------------------------------


class CheckedStructBlock(blocks.StructBlock):
    """A StructBlock whose own checks add Japanese errors to the fields they concern."""

    def field_errors(self, value: Any) -> dict[str, str | None]:
        return {}

    def clean(self, value: Any) -> Any:
        errors: dict[str, ValidationError] = {}
        try:
            cleaned = super().clean(value)
        except StructBlockValidationError as error:
            errors, cleaned = dict(error.block_errors), value
        for name, message in self.field_errors(cleaned).items():
            if message:
                errors.setdefault(name, ValidationError(message))
        if errors:
            raise StructBlockValidationError(block_errors=errors)
        return cleaned


class LineTextBlock(blocks.TextBlock):
    """テキスト: one text message; line breaks are kept, length counted in UTF-16 as LINE does."""

    def __init__(self, rows: int = 6, **kwargs: Any) -> None:
        super().__init__(rows=rows, **kwargs)

    def clean(self, value: Any) -> Any:
        value = super().clean(value)
        if isinstance(value, str):
            value = value.replace("\r\n", "\n").replace("\r", "\n")
            if message := _too_long("本文", value, TEXT_MAX):
                raise ValidationError(message)
        return value

    class Meta:
        label = "テキスト"
        icon = "pilcrow"
        help_text = (
            "LINE の吹き出しにそのまま表示されます（改行も反映）。5000文字まで。"
            "絵文字は1つで2文字以上と数えます。"
        )


class LineImageBlock(CheckedStructBlock):
    """画像: one image message (JPEG or PNG), sent as Wagtail renditions of the chosen image."""

    image = ImageChooserBlock(label="画像", help_text="JPEG か PNG の画像。")
    alt = blocks.CharBlock(
        label="画像の説明（代替テキスト）",
        help_text="画像に何が写っているか（例: 避難所の場所を示した地図）。プレビューと配信履歴で使います。",
    )

    def field_errors(self, value: Any) -> dict[str, str | None]:
        alt = value.get("alt")
        return {
            "image": image_errors(value.get("image"), message_image=True),
            "alt": _too_long("画像の説明", alt, IMAGE_ALT_MAX, len) if isinstance(alt, str) else None,
        }

    class Meta:
        label = "画像"
        icon = "image"


ACTION_CHOICES = [
    ("url", "URL を開く"),
    ("page", "このサイトのページを LINE 内で開く"),
    ("postback", "ボタンの合図を送る（ポストバック）"),
]


class ButtonBlock(CheckedStructBlock):
    """One button of a card: its label and what a tap does."""

    label = blocks.CharBlock(label="ボタンの文字", help_text=f"{BUTTON_LABEL_MAX}文字まで。")
    action = blocks.ChoiceBlock(label="押したときの動作", choices=ACTION_CHOICES, default="url")
    url = blocks.URLBlock(
        label="URL（「URL を開く」のとき）", required=False, help_text="https:// で始まる URL。"
    )
    page = blocks.PageChooserBlock(
        label="ページ（「このサイトのページを LINE 内で開く」のとき）",
        required=False,
        help_text="公開中のページ。LIFF が設定されていれば LINE の中で開きます。",
    )
    data = blocks.CharBlock(
        label="合図のデータ（ポストバックのとき）",
        required=False,
        help_text="利用者には見えず、市のシステムに届きます。300文字まで。",
    )
    display_text = blocks.CharBlock(
        label="押したときトークに表示する文字（ポストバックのとき・任意）",
        required=False,
        help_text="利用者の発言としてトークに表示されます。300文字まで。",
    )

    def field_errors(self, value: Any) -> dict[str, str | None]:
        errors: dict[str, str | None] = {}
        label = value.get("label")
        if isinstance(label, str):
            errors["label"] = _too_long("ボタンの文字", label, BUTTON_LABEL_MAX, grapheme_len)
        action = value.get("action")
        required = not self.is_deferred_validation  # a draft may leave the target for later
        if action == "url":
            url = value.get("url") or ""
            if not url:
                errors["url"] = "「URL を開く」ボタンには URL を入れてください。" if required else None
            elif not str(url).lower().startswith("https://"):
                errors["url"] = "URL は https:// で始まるものにしてください（http のページは開けません）。"
            else:
                errors["url"] = _too_long("URL", str(url), URI_MAX)
        elif action == "page":
            page = value.get("page")
            missing = "ページを選んでください。" if required else None
            errors["page"] = page_errors(page) if page is not None else missing
        elif action == "postback":
            data = value.get("data") or ""
            missing = "合図のデータを入れてください。" if required else None
            errors["data"] = _too_long("合図のデータ", data, POSTBACK_DATA_MAX) if data else missing
        if action == "postback" and (display := value.get("display_text")):
            errors["display_text"] = _too_long("表示する文字", display, DISPLAY_TEXT_MAX, grapheme_len)
        return errors

    class Meta:
        label = "ボタン"
        icon = "link"


class ButtonListBlock(blocks.ListBlock):
    """Up to BUTTONS_MAX buttons, with the count error in Japanese."""

    def clean(self, value: Any) -> Any:
        try:
            return super().clean(value)
        except ListBlockValidationError as error:
            count = len(self.normalize(value))
            non_block = (
                [] if count <= BUTTONS_MAX else [f"ボタンは{BUTTONS_MAX}つまでです（現在 {count} 個）。"]
            )
            raise ListBlockValidationError(
                block_errors=error.block_errors, non_block_errors=non_block
            ) from error


class CardBlock(CheckedStructBlock):
    """カード: a Flex bubble from a simple form (image, title, text, buttons)."""

    image = ImageChooserBlock(
        label="画像（任意）",
        required=False,
        help_text="カードの上に横長（20:13）で表示します。はみ出す部分は切り取られます。",
    )
    title = blocks.CharBlock(label="タイトル", help_text=f"{TITLE_MAX}文字まで。通知にも表示されます。")
    body = blocks.TextBlock(label="本文（任意）", required=False, rows=4, help_text=f"{BODY_MAX}文字まで。")
    buttons = ButtonListBlock(
        ButtonBlock(), label=f"ボタン（{BUTTONS_MAX}つまで）", max_num=BUTTONS_MAX, default=[]
    )

    def field_errors(self, value: Any) -> dict[str, str | None]:
        title, body = value.get("title"), value.get("body")
        return {
            "image": image_errors(value.get("image")),
            "title": _too_long("タイトル", title, TITLE_MAX) if isinstance(title, str) else None,
            "body": _too_long("本文", body, BODY_MAX) if isinstance(body, str) else None,
        }

    class Meta:
        label = "カード"
        icon = "form"


class PageCardBlock(CheckedStructBlock):
    """ページをカードで送る: a card made from a page (its title, lead, image) with a button opening it."""

    page = blocks.PageChooserBlock(
        label="ページ", help_text="公開中のページ。タイトルとリード文がカードになります。"
    )
    button_label = blocks.CharBlock(
        label="ボタンの文字（任意）",
        required=False,
        help_text=f"空なら「{DEFAULT_PAGE_BUTTON}」。{BUTTON_LABEL_MAX}文字まで。",
    )
    image = ImageChooserBlock(
        label="画像（任意）", required=False, help_text="空ならページの画像（あれば）を使います。"
    )

    def field_errors(self, value: Any) -> dict[str, str | None]:
        label = value.get("button_label")
        return {
            "page": page_errors(value.get("page")),
            "button_label": (
                _too_long("ボタンの文字", label, BUTTON_LABEL_MAX, grapheme_len) if label else None
            ),
            "image": image_errors(value.get("image")),
        }

    class Meta:
        label = "ページをカードで送る"
        icon = "doc-full"


class MessageStreamBlock(blocks.StreamBlock):
    """The messages of one delivery: 1 to 5 blocks, each one LINE message object."""

    text = LineTextBlock()
    image = LineImageBlock()
    card = CardBlock()
    page_card = PageCardBlock()

    def clean(self, value: Any) -> Any:
        try:
            return super().clean(value)
        except blocks.StreamBlockValidationError as error:
            raise blocks.StreamBlockValidationError(
                block_errors=error.block_errors, non_block_errors=list(self._count_errors(value, error))
            ) from error

    def _count_errors(self, value: Any, error: blocks.StreamBlockValidationError) -> Iterable[str]:
        count = len(value)
        if count > MAX_MESSAGES:
            yield (
                f"LINE は1回に{MAX_MESSAGES}通までしか送れません。"
                f"メッセージを{MAX_MESSAGES}つ以下にしてください（現在 {count} 個）。"
            )
        elif error.non_block_errors and count < 1:
            yield "メッセージを1つ以上入れてください。"

    class Meta:
        label = "メッセージ"
        min_num = 1
        max_num = MAX_MESSAGES
