"""The LINE action that opens a page of the site, wherever a resident taps it (a rich menu area, a
choice of the chatbot): an answer page continues the conversation (a postback naming the page, so
no message is typed and the reply token comes with it), a form opens inside LINE through LIFF, any
other page opens in the browser."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urljoin

from django.conf import settings

from deliveries.line_messages import page_link

POSTBACK_KEY = "chatbot"


def answer_postback(page_id: int, *, draft: bool = False) -> str:
    """The postback data naming an answer page (``draft`` asks for its latest revision: testers only)."""
    return f"{POSTBACK_KEY}={page_id}" + ("&draft=1" if draft else "")


def parse_postback(data: str) -> tuple[int, bool] | None:
    """(page id, draft) from postback data made by ``answer_postback``, else None."""
    fields = parse_qs(data or "", max_num_fields=5)
    value = (fields.get(POSTBACK_KEY) or [""])[0]
    if not value.isdigit():
        return None
    return int(value), (fields.get("draft") or [""])[0] == "1"


def page_uri(page: Any) -> str:
    """Form pages open inside LINE (LIFF); other pages in the browser."""
    from home.forms.models import BaseFormPage

    specific = page.specific
    if isinstance(specific, BaseFormPage):
        return page_link(specific)
    parts = specific.get_url_parts()
    path = parts[2] if parts else "/"
    return urljoin(settings.WAGTAILADMIN_BASE_URL.rstrip("/") + "/", path.lstrip("/"))


def page_action(page: Any, *, label: str, draft: bool = False) -> dict[str, Any]:
    """The action of a button or area that opens ``page``, labelled ``label``."""
    from chatbot.models import AnswerPage

    specific = page.specific
    if isinstance(specific, AnswerPage):
        return answer_action(specific.pk, label=label, draft=draft)
    return {"type": "uri", "label": label, "uri": page_uri(specific)}


def answer_action(page_id: int, *, label: str, draft: bool = False) -> dict[str, Any]:
    """The tap that shows answer page ``page_id`` (the label is shown as if the resident said it)."""
    return {
        "type": "postback",
        "label": label,
        "data": answer_postback(page_id, draft=draft),
        "displayText": label,
    }
