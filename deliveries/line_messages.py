"""A delivery's message stream as LINE message objects, its warnings, its summary and its preview.

``to_line_messages`` is the one place the LINE JSON is made: every block becomes exactly one
message object that LINE accepts (``emulator.validation.validate_messages`` is the oracle in
tests), or a ``ValidationError`` naming the message ("2通目: …") when content has gone since it was
checked (an unpublished page, a deleted image). Media URLs are absolute: the rendition's URL on
``base_url`` (``WAGTAILADMIN_BASE_URL``, i.e. ``KAIRAN_BASE_URL``), since LINE fetches them.

``preview_context`` turns message objects (fresh, or a stored snapshot) into the context of
``deliveries/talk_preview.html``, a LINE talk screen drawn with classes only (the CSP).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import quote, urljoin

from django.conf import settings
from django.core.exceptions import ValidationError
from wagtail.images.models import AbstractImage

from deliveries.blocks import (
    ALT_TEXT_MAX,
    BODY_MAX,
    DEFAULT_PAGE_BUTTON,
    HERO_SPEC,
    PREVIEW_SPEC,
    URI_MAX,
    original_spec,
    page_errors,
    utf16_len,
)

LIFF_BASE = "https://liff.line.me"
PRIMARY_COLOR = "#06C755"  # LINE's green
DEFAULT_BOT_NAME = "市の公式アカウント"
DEFAULT_IMAGE_ALT = "画像"
SUMMARY_LENGTH = 60
UNSUPPORTED = "（この種類のメッセージはプレビューできません）"

# --- URLs ---------------------------------------------------------------------------------------


def _base(base_url: str | None) -> str:
    return (base_url or settings.WAGTAILADMIN_BASE_URL).rstrip("/") + "/"


def _absolute(url: str, base: str) -> str:
    return urljoin(base, url)


def _rendition_url(image: Any, spec: str, base: str) -> str:
    return _absolute(image.get_rendition(spec).url, base)


def page_link(page: Any, *, base_url: str | None = None) -> str:
    """The URL a button opens for a page: inside LINE (``https://liff.line.me/{liffId}/<path>``,
    served by ``/liff/<path>``) when a LIFF app is configured, else the page's absolute URL.
    The site's root page has no LIFF path (``/liff/`` is My Page), so it is always opened directly."""
    from line_channel.liff import liff_id

    parts = page.get_url_parts()
    path = parts[2] if parts else None
    if not path:
        raise ValidationError("ページの URL がわかりません。")
    path = quote(path, safe="/%:@!$&'()*+,;=-._~")
    app = liff_id()
    if app and path.strip("/"):
        link = f"{LIFF_BASE}/{app}/{path.lstrip('/')}"
    else:
        link = _absolute(path.lstrip("/"), _base(base_url))
    if len(link) > URI_MAX:
        raise ValidationError(f"ページの URL が長すぎます（{URI_MAX}文字まで）。")
    return link


# --- message objects ----------------------------------------------------------------------------


def _shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` UTF-16 units, "…" included, never inside a surrogate pair."""
    if utf16_len(text) <= limit:
        return text
    out = ""
    for char in text:
        if utf16_len(out + char) > limit - 1:
            break
        out += char
    return out + "…"


def _button(label: str, action: dict[str, Any], first: bool) -> dict[str, Any]:
    button: dict[str, Any] = {"type": "button", "height": "sm", "action": {**action, "label": label}}
    if first:
        button.update(style="primary", color=PRIMARY_COLOR)
    else:
        button["style"] = "secondary"
    return button


def bubble(
    title: str,
    body: str = "",
    *,
    image_url: str | None = None,
    buttons: Sequence[tuple[str, dict[str, Any]]] = (),
) -> dict[str, Any]:
    """The Flex bubble of a card: hero image 20:13, bold title, body, buttons (first one primary)."""
    contents: list[dict[str, Any]] = [
        {"type": "text", "text": title, "weight": "bold", "size": "lg", "wrap": True}
    ]
    if body:
        contents.append({"type": "text", "text": body, "size": "md", "wrap": True, "color": "#333333"})
    result: dict[str, Any] = {"type": "bubble"}
    if image_url:
        result["hero"] = {
            "type": "image",
            "url": image_url,
            "size": "full",
            "aspectRatio": "20:13",
            "aspectMode": "cover",
        }
    result["body"] = {"type": "box", "layout": "vertical", "spacing": "md", "contents": contents}
    if buttons:
        result["footer"] = {
            "type": "box",
            "layout": "vertical",
            "spacing": "sm",
            "contents": [_button(label, action, i == 0) for i, (label, action) in enumerate(buttons)],
        }
    return result


def _flex(title: str, contents: dict[str, Any]) -> dict[str, Any]:
    return {"type": "flex", "altText": _shorten(title, ALT_TEXT_MAX), "contents": contents}


def _page(page: Any) -> Any:
    if page is None:
        raise ValidationError("ページが見つかりません（削除された可能性があります）。")
    if problem := page_errors(page):
        raise ValidationError(problem)
    return page.specific


def _is_answer(page: Any) -> bool:
    from chatbot.models import AnswerPage

    return isinstance(page, AnswerPage)


def _button_action(value: Any, base: str) -> dict[str, Any]:
    action = value.get("action")
    if action == "url" and value.get("url"):
        return {"type": "uri", "uri": str(value["url"])}
    if action == "page":
        page = _page(value.get("page"))
        if _is_answer(page):  # a chatbot answer: the tap starts that conversation
            from chatbot.actions import page_action

            return page_action(page, label=str(value.get("label") or page.title))
        return {"type": "uri", "uri": page_link(page, base_url=base)}
    if action == "postback" and value.get("data"):
        postback = {"type": "postback", "data": str(value["data"])}
        if value.get("display_text"):
            postback["displayText"] = str(value["display_text"])
        return postback
    raise ValidationError(f"ボタン「{value.get('label')}」の動作の設定が足りません。")


def _label(button: Any) -> str:
    label = str(button.get("label") or "").strip()
    if not label:
        raise ValidationError("ボタンの文字がありません。")
    return label


def _page_image(page: Any) -> Any:
    for name in ("image", "hero_image"):
        image = getattr(page, name, None)
        if isinstance(image, AbstractImage):
            return image
    return None


def _message(kind: str, value: Any, base: str) -> dict[str, Any]:
    if kind == "text":
        if not value:
            raise ValidationError("本文がありません。")
        return {"type": "text", "text": str(value)}
    if kind == "image":
        image = value.get("image")
        if image is None:
            raise ValidationError("画像が見つかりません（削除された可能性があります）。")
        return {
            "type": "image",
            "originalContentUrl": _rendition_url(image, original_spec(image), base),
            "previewImageUrl": _rendition_url(image, PREVIEW_SPEC, base),
        }
    if kind == "card":
        title = (value.get("title") or "").strip()
        if not title:
            raise ValidationError("カードのタイトルがありません。")
        image = value.get("image")
        buttons = [(_label(b), _button_action(b, base)) for b in value.get("buttons") or []]
        hero = _rendition_url(image, HERO_SPEC, base) if image is not None else None
        return _flex(title, bubble(title, (value.get("body") or "").strip(), image_url=hero, buttons=buttons))
    if kind == "page_card":
        page = _page(value.get("page"))
        body = _shorten((getattr(page, "lead", "") or page.search_description or "").strip(), BODY_MAX)
        image = value.get("image") or _page_image(page)
        hero = _rendition_url(image, HERO_SPEC, base) if image is not None else None
        label = value.get("button_label") or DEFAULT_PAGE_BUTTON
        button = (label, {"type": "uri", "uri": page_link(page, base_url=base)})
        if _is_answer(page):
            from chatbot.actions import page_action

            button = (label, page_action(page, label=label))
        return _flex(page.title, bubble(page.title, body, image_url=hero, buttons=[button]))
    raise ValidationError(f"この種類のメッセージ（{kind}）は送れません。")


def to_line_messages(stream: Any, *, base_url: str | None = None) -> list[dict[str, Any]]:
    """The stream's LINE message objects, one per block, in order.

    Raises ``ValidationError`` ("N通目: …") when a block cannot be sent as it is now."""
    base = _base(base_url)
    messages = []
    for number, child in enumerate(stream, start=1):
        try:
            messages.append(_message(child.block_type, child.value, base))
        except ValidationError as error:
            raise ValidationError(f"{number}通目: {' '.join(error.messages)}") from error
    return messages


def message_count(stream: Any) -> int:
    """How many LINE message objects the stream makes (one per block)."""
    return len(list(stream))


def _one_line(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def summary_text(stream: Any) -> str:
    """A short plain text for lists: the first text's start, else 「カード: タイトル」 or 「画像」."""
    children = list(stream)
    for child in children:
        if child.block_type == "text" and str(child.value or "").strip():
            return _one_line(child.value, SUMMARY_LENGTH)
    if not children:
        return ""
    first = children[0]
    if first.block_type == "card":
        return _one_line(f"カード: {first.value.get('title') or ''}", SUMMARY_LENGTH)
    if first.block_type == "page_card":
        page = first.value.get("page")
        return _one_line(f"カード: {page.title if page is not None else ''}", SUMMARY_LENGTH)
    if first.block_type == "image":
        return "画像"
    return ""


def alt_texts(stream: Any) -> list[str]:
    """The images' descriptions per message (``""`` where none), for ``preview_context``: LINE's
    message objects carry none, so keep this beside a snapshot to describe its images later."""
    return [str(child.value.get("alt") or "") if child.block_type == "image" else "" for child in stream]


# --- personal data warnings ----------------------------------------------------------------------

_DASH = r"[-‐‑‒–—―−ー]"
_SEP = rf"(?:{_DASH}|\s)?"
_NEUTRAL = re.compile(  # dates, times and money: never phone numbers or addresses
    r"(?<!\d)\d{4}[-/.]\d{1,2}[-/.]\d{1,2}(?!\d)"
    r"|(?<!\d)\d{2,4}年\d{1,2}月(?:\d{1,2}日)?|(?<!\d)\d{1,2}月\d{1,2}日"
    r"|(?<!\d)\d{1,2}/\d{1,2}(?![\d/])"
    r"|(?<!\d)\d{1,2}[:：]\d{2}(?::\d{2})?(?!\d)|(?<!\d)\d{1,2}時(?:\d{1,2}分)?"
    r"|[¥￥]\s?\d[\d,]*|(?<!\d)\d[\d,]*(?:\.\d+)?\s?(?:円|万円|億円)"
)
_GAP = r"[-‐‑‒–—―−ー ()]{0,2}"  # between the groups of a phone number: dashes, spaces, brackets
_PHONE = re.compile(  # the digit count (10 or 11 in Japan) is checked after matching
    rf"(?<![\d+])\(?0\d{{1,4}}{_GAP}\d{{1,4}}{_GAP}\d{{4}}(?!\d)"
    rf"|(?<!\d)0(?:120|800){_SEP}\d{{3}}{_SEP}\d{{3}}(?!\d)"
    rf"|\+81{_GAP}0?{_GAP}\d{{1,4}}{_GAP}\d{{1,4}}{_GAP}\d{{4}}(?!\d)"
)
_POSTAL = re.compile(rf"〒\s*\d{{3}}{_DASH}?\d{{4}}(?!\d)|郵便番号[:：\s]*\d{{3}}{_DASH}\d{{4}}(?!\d)")
_ADDRESS = re.compile(
    r"\d+\s*丁目|\d+\s*番地|\d+\s*番\s*\d+\s*号|字[^\s\d、。,]{1,10}\d{1,5}"
    rf"|[都道府県市区町村郡][^\s\d、。,.!?()「」]{{0,12}}?\d{{1,4}}(?:{_DASH}\d{{1,4}}){{1,2}}"
    r"(?![\d階時分日月年円人歳回件枚個名班号%])"
)
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_NAME_WORDS = (
    r"(?:お?名前|氏名|宛名|ご?住所|電話番号|生年月日|(?:full_?|first_?|last_?)?name|address|phone|e?mail)"
)
_PLACEHOLDER = re.compile(
    r"\{\{[^{}\n]{1,40}\}\}|\{[^{}\s]{1,20}\}|%[A-Za-z_][A-Za-z0-9_]{0,30}%"
    rf"|[<\[【《〈]\s*{_NAME_WORDS}\s*[>\]】》〉]"
    r"|[〇○◯●◎×✕*□■△▲]{1,4}\s*(?:様|さん|殿|くん|ちゃん)",
    re.IGNORECASE,
)
_CHECKS = (
    (_PHONE, "電話番号のような文字列があります（市の代表番号など公開の番号なら問題ありません）"),
    (_POSTAL, "郵便番号のような文字列があります（施設など公開の住所なら問題ありません）"),
    (_ADDRESS, "住所のような文字列があります（会場や施設など公開の住所なら問題ありません）"),
    (_EMAIL, "メールアドレスがあります（市の窓口など公開のアドレスなら問題ありません）"),
    (
        _PLACEHOLDER,
        "宛名の差し込みのような文字列があります（一斉配信は一人ひとりに合わせた文にできず、"
        "個人の情報も載せられません）",
    ),
)


def _staff_texts(kind: str, value: Any) -> Iterable[str]:
    """What staff typed into a block (page contents are public already)."""
    if kind == "text":
        yield str(value or "")
    elif kind == "image":
        yield str(value.get("alt") or "")
    elif kind == "card":
        yield str(value.get("title") or "")
        yield str(value.get("body") or "")
        for button in value.get("buttons") or []:
            yield str(button.get("label") or "")
            yield str(button.get("display_text") or "")
    elif kind == "page_card":
        yield str(value.get("button_label") or "")


def _phone_digits(hit: str) -> bool:
    digits = re.sub(r"\D", "", hit)
    if hit.startswith("+81"):
        digits = "0" + digits[2:].removeprefix("0")
    return 10 <= len(digits) <= 11


def find_personal_data(text: str) -> list[tuple[str, list[str]]]:
    """(warning, matched strings) for each kind of personal-looking data in ``text``."""
    normal = _NEUTRAL.sub(" ", unicodedata.normalize("NFKC", text))
    found = []
    for pattern, warning in _CHECKS:
        hits = [match.group(0).strip() for match in pattern.finditer(normal)]
        if pattern is _PHONE:
            hits = [hit for hit in hits if _phone_digits(hit)]
        if hits:
            found.append((warning, hits))
    return found


def personal_data_warnings(stream: Any) -> list[str]:
    """Japanese warnings (not errors) where typed text looks like personal data, which a LINE
    delivery must not carry (the 2021 national guideline on LINE use by local governments)."""
    warnings = []
    for number, child in enumerate(stream, start=1):
        text = "\n".join(t for t in _staff_texts(child.block_type, child.value) if t)
        for warning, hits in find_personal_data(text):
            shown = "、".join(dict.fromkeys(hits[:3]))
            warnings.append(f"{number}通目: {warning}: {shown}")
    return warnings


# --- preview ------------------------------------------------------------------------------------


def _walk(component: Any) -> Iterable[dict[str, Any]]:
    if isinstance(component, dict):
        yield component
        for child in component.get("contents") or []:
            yield from _walk(child)


def _card(message: dict[str, Any]) -> dict[str, Any] | None:
    container = message.get("contents")
    if not isinstance(container, dict) or container.get("type") != "bubble":
        return None
    hero = container.get("hero")
    texts: list[dict[str, Any]] = []
    buttons = []
    for part in ("header", "body", "footer"):
        for component in _walk(container.get(part)):
            if component.get("type") == "text" and component.get("text"):
                texts.append(component)
            elif component.get("type") == "button" and isinstance(component.get("action"), dict):
                style = (
                    component.get("style") if component.get("style") in ("primary", "secondary") else "link"
                )
                buttons.append({"label": str(component["action"].get("label") or ""), "style": style})
    title = next((t for t in texts if t.get("weight") == "bold"), texts[0] if texts else None)
    return {
        "hero": hero.get("url") if isinstance(hero, dict) and hero.get("type") == "image" else None,
        "title": str(title["text"]) if title else "",
        "body": [str(t["text"]) for t in texts if t is not title],
        "buttons": buttons,
    }


def _preview_item(message: Any, alt: str) -> dict[str, Any]:
    kind = message.get("type") if isinstance(message, dict) else None
    if kind == "text" and isinstance(message.get("text"), str):
        return {"kind": "text", "label": "テキスト", "text": message["text"]}
    if kind == "image" and message.get("previewImageUrl"):
        return {
            "kind": "image",
            "label": "画像",
            "src": message["previewImageUrl"],
            "alt": alt or DEFAULT_IMAGE_ALT,
        }
    if kind == "flex" and (card := _card(message)):
        return {"kind": "card", "label": "カード", "alt_text": message.get("altText") or "", **card}
    template = message.get("template") if kind == "template" else None
    if isinstance(template, dict) and template.get("type") in ("buttons", "carousel"):
        columns = template.get("columns") if template["type"] == "carousel" else [template]
        cards = [
            {
                "hero": column.get("thumbnailImageUrl"),
                "title": str(column.get("title") or ""),
                "body": [str(column.get("text") or "")],
                "buttons": [
                    {"label": str(action.get("label") or ""), "style": "link"}
                    for action in column.get("actions") or []
                ],
            }
            for column in columns or []
            if isinstance(column, dict)
        ]
        label = "カルーセル" if template["type"] == "carousel" else "ボタン付きメッセージ"
        return {"kind": "carousel", "label": label, "alt_text": message.get("altText") or "", "cards": cards}
    alt_text = message.get("altText") if isinstance(message, dict) else None
    return {"kind": "unsupported", "label": "メッセージ", "text": UNSUPPORTED, "alt_text": alt_text or ""}


def bot_display_name() -> str:
    """The LINE account's name as set in LINE連携設定, or a neutral name."""
    from line_channel.models import LineChannelSettings

    return (LineChannelSettings.load().bot_display_name or "").strip() or DEFAULT_BOT_NAME


def preview_context(
    messages: Sequence[dict[str, Any]], *, alt_texts: Sequence[str] | None = None
) -> dict[str, Any]:
    """Context of ``deliveries/talk_preview.html``: ``talk_preview`` with the bot's name and one
    item per message (``kind``: text, image, card or unsupported)."""
    alts = list(alt_texts or [])
    items = []
    quick_replies: list[dict[str, Any]] = []
    for index, message in enumerate(messages or []):
        item = _preview_item(message, alts[index] if index < len(alts) else "")
        item["number"] = index + 1
        items.append(item)
        quick = message.get("quickReply") if isinstance(message, dict) else None
        if isinstance(quick, dict):  # (LINE shows the last message's quick reply buttons)
            quick_replies = [
                {"label": str((entry.get("action") or {}).get("label") or ""), "action": entry.get("action")}
                for entry in quick.get("items") or []
            ]
    name = bot_display_name()
    talk = {"bot_name": name, "bot_initial": name[:1], "messages": items, "quick_replies": quick_replies}
    return {"talk_preview": talk}
