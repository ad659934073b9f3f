"""Demo チャットボット: the starter pack, published under the site root and wired as the bot's
menu, greeting and fallback, so the phone simulator answers as soon as ``make run`` is up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wagtail.models import Page

from chatbot import transfer
from chatbot.models import AnswerPage, ChatbotSettings

STARTER = Path(__file__).resolve().parent / "starter" / "starter-pack.json"


def seed_chatbot(*, home: Page, publisher: Any) -> None:
    """Idempotent: nothing happens once the site has answer pages."""
    if AnswerPage.objects.exists():
        return
    document = transfer.parse(STARTER.read_text(encoding="utf-8"))
    menu, greeting, fallback = transfer.import_tree(
        document=document, parent=home, publish=True, user=publisher
    )[0]
    config = ChatbotSettings.load()
    config.top_page, config.greeting_page, config.fallback_page = menu, greeting, fallback
    config.save()


def answer_page(slug: str) -> int | None:
    """A published answer page of the demo by its slug (what rich menu areas start)."""
    return AnswerPage.objects.live().filter(slug=slug).values_list("pk", flat=True).first()
