"""After a sync, the bot answers residents' questions from the city's pages: a scraped page is an
answer page like any other, indexed by the Japanese search, and the ホームページ section shows no
buttons of its own."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from chatbot import engine
from chatbot.line_messages import answer_messages
from chatbot.models import AnswerPage
from scraper import services
from scraper.models import ScrapeRun, ScrapeSource
from tests.scraper.conftest import FakeSite

pytestmark = pytest.mark.django_db
USER = "U" + "5" * 32


def test_a_question_about_a_scraped_page_is_answered_from_it(
    make_source: Callable[..., ScrapeSource], city_site: FakeSite
) -> None:
    # No answer pages yet: the bot is silent.
    assert engine.answer_text(user_id=USER, text="市民課の窓口は何時まで受け付けていますか") is None

    run = services.run_sync(source_id=make_source().pk, trigger=ScrapeRun.Trigger.MANUAL)
    assert run.status == ScrapeRun.Status.FINISHED, run.message

    answer: Any = engine.answer_text(user_id=USER, text="市民課の窓口は何時まで受け付けていますか")
    assert answer.kind == "page" and answer.page.title == "市民課窓口の受付時間"
    assert answer.page.source_url.endswith("/kurashi/henkou.html")
    assert "午後5時15分まで" in answer.messages[0]["text"]

    answer = engine.answer_text(user_id=USER, text="家庭ごみは何時までに出せばいいですか")
    assert answer.kind == "page" and answer.page.title == "家庭ごみの出し方"

    section = AnswerPage.objects.get(slug=services.SECTION_SLUG)
    assert section.get_children().count() > 4
    (message,) = answer_messages(section, top_id=None)
    assert "quickReply" not in message  # its pages are found by words, not buttons
