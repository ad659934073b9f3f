"""Each process holds the chatbot's published content (settings, live pages, keywords, rendered
answers, searched questions) and drops it when pages or settings change."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache

from chatbot import content, engine
from chatbot.models import AnswerPage, ChatbotSettings

USER = "U" + "c" * 32


def test_an_answer_asked_again_costs_one_write(
    starter: dict[str, AnswerPage], settings: Any, django_assert_num_queries: Any
) -> None:
    settings.KAIRAN_CHATBOT_CONTENT_CHECK_SECONDS = 60
    first = engine.answer_text(user_id=USER, text="ごみ")
    searched = engine.answer_text(user_id=USER, text="古い家具を捨てたいのですが")
    assert first and searched
    with django_assert_num_queries(1):  # where the resident is now (one upsert)
        again = engine.answer_text(user_id=USER, text="ごみ")
    assert again and again.messages == first.messages and again.page_id == starter["menu/gomi"].pk
    with django_assert_num_queries(1):  # the search is remembered too
        assert engine.answer_text(user_id=USER, text="古い家具を捨てたいのですが") == searched


def test_another_process_change_is_seen_within_the_check_interval(
    starter: dict[str, AnswerPage], settings: Any
) -> None:
    settings.KAIRAN_CHATBOT_CONTENT_CHECK_SECONDS = 60
    held = content.current()
    assert content.current() is held
    cache.set(content.VERSION_KEY, "changed elsewhere", None)  # what another process's change does
    assert content.current() is held  # not looked at again yet
    settings.KAIRAN_CHATBOT_CONTENT_CHECK_SECONDS = 0
    assert content.current() is not held and content.current().version == "changed elsewhere"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_publishing_and_settings_change_the_content_at_once(
    starter: dict[str, AnswerPage], settings: Any
) -> None:
    settings.KAIRAN_CHATBOT_CONTENT_CHECK_SECONDS = 60
    sodai = starter["menu/gomi/sodai"]
    held = content.current()
    assert held.page(sodai.pk) is not None

    sodai.unpublish()
    assert content.current() is not held and content.current().page(sodai.pk) is None
    unpublished = engine.answer_text(user_id=USER, text="粗大ごみ")  # (its keyword is gone too)
    assert unpublished is not None and unpublished.page_id != sodai.pk

    sodai.save_revision().publish()
    assert content.current().page(sodai.pk) is not None
    republished = engine.answer_text(user_id=USER, text="粗大ごみ")
    assert republished is not None and republished.page_id == sodai.pk

    config = ChatbotSettings.load()
    config.fallback_text = "市民課（0192-27-3111）へお問い合わせください。"
    config.fallback_page = None
    config.save()
    assert content.current().fallback_text == config.fallback_text
