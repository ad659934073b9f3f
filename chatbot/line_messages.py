"""An answer page as LINE messages: its body, then its choices as LINE's limits allow.

Choices are the page's live children (answer pages: a postback naming the page), then its extra
choices (pages, URLs, phone numbers). They are shown

- as quick reply buttons under the last message (≤ 13 items, with 「最初に戻る」),
- as a buttons template (≤ 4 actions), or
- as a carousel of button columns (≤ 10 columns of the same number of actions, ≤ 3 each),

or not at all (a section such as 「ホームページ」, whose many pages are found by keywords and free
text), and every answer but the top page offers 「最初に戻る」 as a quick reply. The page's ``clean`` refuses
what LINE would refuse (counts and labels), with Japanese errors, so a page that saves is one LINE
accepts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from deliveries.blocks import MAX_MESSAGES, grapheme_len
from deliveries.line_messages import to_line_messages

QUICK_REPLY_MAX = 13
BUTTONS_MAX = 4
COLUMN_ACTIONS_MAX = 3
COLUMNS_MAX = 10
CAROUSEL_MAX = COLUMNS_MAX * COLUMN_ACTIONS_MAX
LABEL_MAX = 20
ALT_TEXT_MAX = 400
BUTTONS_TEXT_MAX = 160
COLUMN_TITLE_MAX = 40
COLUMN_TEXT_MAX = 60  # with a title
TOP_LABEL = "最初に戻る"
DEFAULT_PROMPT = "知りたいことを選んでください。"


@dataclass(frozen=True)
class Choice:
    label: str
    action: dict[str, Any]


def body_text(stream: Any) -> str:
    """The words of an answer's messages (texts, card titles and bodies): for the search index."""
    parts: list[str] = []
    for child in stream:
        value = child.value
        if child.block_type == "text":
            parts.append(str(value))
        elif child.block_type == "card":
            parts += [str(value.get("title") or ""), str(value.get("body") or "")]
        elif child.block_type == "image":
            parts.append(str(value.get("alt") or ""))
    return "\n".join(part for part in parts if part)


def _children(page: Any, *, draft: bool) -> Iterable[Any]:
    from chatbot.models import AnswerPage

    if not page.pk:
        return []
    children = page.get_children().type(AnswerPage).specific()
    if not draft:
        children = children.live()
    return [child.get_latest_revision_as_object() if draft else child for child in children]


def choices(page: Any, *, draft: bool = False) -> list[Choice]:
    """What the resident can tap under ``page``, in order (``draft``: testers see unpublished steps)."""
    from chatbot.actions import page_action

    found = [
        Choice(child.choice_label, page_action(child, label=child.choice_label, draft=draft))
        for child in _children(page, draft=draft)
    ]
    for block in page.extra_choices or []:
        value = block.value
        label = str(value.get("label") or "")[:LABEL_MAX]
        if block.block_type == "page" and value.get("page") is not None:
            target = value["page"].specific
            if target.live or draft:
                found.append(Choice(label, page_action(target, label=label, draft=draft)))
        elif block.block_type == "url" and value.get("url"):
            found.append(Choice(label, {"type": "uri", "label": label, "uri": str(value["url"])}))
        elif block.block_type == "phone" and value.get("number"):
            number = str(value["number"]).replace("-", "")
            found.append(Choice(label, {"type": "uri", "label": label, "uri": f"tel:{number}"}))
    return found


def style_for(page: Any, count: int) -> str:
    if page.choice_style != "auto":
        return str(page.choice_style)
    return "quick_reply" if count < QUICK_REPLY_MAX else "carousel"


def top_choice(top_id: int, *, draft: bool = False) -> Choice:
    """「最初に戻る」: the tap that shows the top page."""
    from chatbot.actions import answer_action

    return Choice(TOP_LABEL, answer_action(top_id, label=TOP_LABEL, draft=draft))


def _back(top_id: int | None, page: Any, *, draft: bool) -> Choice | None:
    if top_id is None or top_id == page.pk:
        return None
    return top_choice(top_id, draft=draft)


def quick_reply(items: list[Choice]) -> dict[str, Any]:
    return {"items": [{"type": "action", "action": choice.action} for choice in items]}


def _alt_text(title: str, items: list[Choice]) -> str:
    text = f"{title}: " + " / ".join(choice.label for choice in items)
    return text if len(text) <= ALT_TEXT_MAX else text[: ALT_TEXT_MAX - 1] + "…"


def _prompt(page: Any) -> str:
    return (page.choice_prompt or "").strip() or DEFAULT_PROMPT


def _columns(items: list[Choice], pad: Choice) -> list[list[Choice]]:
    """Columns of equal size (LINE requires it): the largest size ≤ 3 that keeps ≤ 10 columns,
    the last column filled up with ``pad``."""
    per = next((n for n in (3, 2, 1) if len(items) % n == 0 and len(items) // n <= COLUMNS_MAX), 3)
    columns = [items[i : i + per] for i in range(0, len(items), per)]
    while len(columns[-1]) < per:
        columns[-1].append(pad)
    return columns


def answer_messages(
    page: Any, *, top_id: int | None, draft: bool = False, base_url: str | None = None
) -> list[dict[str, Any]]:
    """The LINE messages that answer with ``page`` (``ValidationError`` when a block cannot be sent)."""
    messages = to_line_messages(page.body, base_url=base_url)
    found = choices(page, draft=draft)
    back = _back(top_id, page, draft=draft)
    extra = [back] if back else []
    style = style_for(page, len(found))
    if not found or style == "none":
        pass
    elif style == "quick_reply":
        extra = found + extra
    elif style == "buttons":
        messages.append(
            {
                "type": "template",
                "altText": _alt_text(page.title, found),
                "template": {
                    "type": "buttons",
                    "text": _prompt(page)[:BUTTONS_TEXT_MAX],
                    "actions": [choice.action for choice in found],
                },
            }
        )
    else:
        pad = back or Choice(page.choice_label, found[0].action)
        columns = _columns(list(found), pad)
        messages.append(
            {
                "type": "template",
                "altText": _alt_text(page.title, found),
                "template": {
                    "type": "carousel",
                    "columns": [
                        {
                            "title": f"{page.title[: COLUMN_TITLE_MAX - 6]}（{n}/{len(columns)}）"
                            if len(columns) > 1
                            else page.title[:COLUMN_TITLE_MAX],
                            "text": _prompt(page)[:COLUMN_TEXT_MAX],
                            "actions": [choice.action for choice in column],
                        }
                        for n, column in enumerate(columns, start=1)
                    ],
                },
            }
        )
    if extra and messages:
        messages[-1] = {**messages[-1], "quickReply": quick_reply(extra)}
    return messages


def structure_errors(page: Any) -> list[str]:
    """What LINE would refuse in this page's answer: too many messages or choices, long labels."""
    problems = []
    found = choices(page, draft=True)
    style = style_for(page, len(found))
    template = bool(found) and style in ("buttons", "carousel")
    count = len(list(page.body or []))
    if count + template > MAX_MESSAGES:
        problems.append(
            f"選択肢をボタン付きメッセージやカルーセルで見せるときは、回答のメッセージを"
            f"{MAX_MESSAGES - 1}通までにしてください（現在 {count} 通）。"
        )
    limit = {
        "quick_reply": QUICK_REPLY_MAX - 1,
        "buttons": BUTTONS_MAX,
        "carousel": CAROUSEL_MAX,
    }.get(style)
    if limit is not None and len(found) > limit:
        shown = dict(_style_names())[style]
        problems.append(
            f"選択肢が多すぎます（{len(found)}個）。{shown}で見せられるのは{limit}個までです。"
            "見せ方を変えるか、子ページをまとめてください。"
        )
    for choice in found:
        if grapheme_len(choice.label) > LABEL_MAX or not choice.label.strip():
            problems.append(f"選択肢「{choice.label}」の文字は1〜{LABEL_MAX}文字にしてください。")
    return problems


def _style_names() -> list[tuple[str, str]]:
    return [
        ("quick_reply", "クイックリプライ"),
        ("buttons", "ボタン付きメッセージ"),
        ("carousel", "カルーセル"),
    ]
