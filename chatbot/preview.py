"""An answer page as the resident sees it in LINE: the talk screen with its buttons. The same
template is the Wagtail preview (the draft) and the page's public address (what the site search
links to), where the choices are links to the pages they lead to."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

from chatbot.actions import parse_postback
from chatbot.line_messages import answer_messages
from deliveries.line_messages import alt_texts
from deliveries.line_messages import preview_context as talk_context


def _href(action: Any) -> str | None:
    from chatbot.models import AnswerPage

    if not isinstance(action, dict):
        return None
    if action.get("type") == "uri":
        return str(action.get("uri") or "") or None
    parsed = parse_postback(str(action.get("data") or ""))
    if parsed is None:
        return None
    page = AnswerPage.objects.filter(pk=parsed[0]).first()
    return page.get_url() if page is not None else None


def preview_context(page: Any) -> dict[str, Any]:
    from chatbot.models import ChatbotSettings

    config = ChatbotSettings.load()
    try:
        messages = answer_messages(page, top_id=config.top_page_id, draft=True)
    except ValidationError as error:
        return {"preview_error": " ".join(error.messages), **talk_context([])}
    context = talk_context(messages, alt_texts=alt_texts(page.body))
    for quick in context["talk_preview"]["quick_replies"]:
        quick["href"] = _href(quick.get("action"))
    return context
