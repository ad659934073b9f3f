"""What the bot answers: a page named by a postback, a choice or keyword typed, or a free-text
question matched by the Japanese search index; otherwise the fallback, and the question is counted
in 未回答の質問.

Order for a typed message: 「最初に戻る」, a choice label of the page the resident is at (while the
conversation is fresh), a keyword, then the search. The search answers when its best page is
clearly best (``CONFIDENT_SCORE`` and ``LEAD``), offers up to 3 candidates as quick replies when
some pages match, and falls back otherwise.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from chatbot import keywords
from chatbot.line_messages import TOP_LABEL, Choice, answer_messages, choices, quick_reply, top_choice
from chatbot.models import AnswerPage, ChatbotSettings, Conversation, UnansweredQuestion
from kairan.core.crypto import line_user_hash

CONFIDENT_SCORE = 2.0  # BM25 score of the best page for a direct answer
LEAD = 1.5  # … and how many times the second page's score it must be
CANDIDATES = 3
CANDIDATE_SCORE = 0.5  # a page below this is no candidate
CANDIDATE_INTRO = "お探しの情報はどれですか？下のボタンから選んでください。"


@dataclass
class Answer:
    """What to send, and why (``kind``: page, candidates, fallback)."""

    kind: str
    messages: list[dict[str, Any]]
    page: AnswerPage | None = None
    candidates: list[AnswerPage] = field(default_factory=list)


def _settings() -> ChatbotSettings:
    return ChatbotSettings.load()


def _top_id(config: ChatbotSettings) -> int | None:
    return config.top_page_id if config.top_page_id and config.top_page and config.top_page.live else None


def page_answer(
    page: AnswerPage, *, user_id: str, draft: bool = False, config: ChatbotSettings | None = None
) -> Answer:
    """Answer with ``page`` (its latest revision when ``draft``) and remember where the resident is."""
    config = config or _settings()
    shown = page.get_latest_revision_as_object() if draft else page
    messages = answer_messages(shown, top_id=_top_id(config), draft=draft)
    remember(user_id=user_id, page=page)
    return Answer("page", messages, page=page)


def remember(*, user_id: str, page: AnswerPage | None) -> None:
    Conversation.objects.update_or_create(
        line_user_hash=line_user_hash(user_id), defaults={"page": page, "updated_at": timezone.now()}
    )


def _is_tester(user_id: str) -> bool:
    from deliveries.models import Tester

    return Tester.objects.filter(follower__line_user_id=user_id).exists()


def answer_tap(data_page: int, *, user_id: str, draft: bool = False) -> Answer | None:
    """The answer to a tap naming a page; None when the page is gone or not published (drafts are
    shown to testers only)."""
    draft = draft and _is_tester(user_id)
    page = AnswerPage.objects.filter(pk=data_page).first()
    if page is None or not (page.live or draft):
        return None
    return page_answer(page, user_id=user_id, draft=draft)


def greeting(*, user_id: str) -> Answer | None:
    page = _settings().greeting_page
    if page is None or not page.live:
        return None
    return page_answer(page, user_id=user_id)


def _current(user_id: str, config: ChatbotSettings) -> AnswerPage | None:
    row = Conversation.objects.filter(line_user_hash=line_user_hash(user_id)).select_related("page").first()
    if row is None or row.page is None:
        return None
    if timezone.now() - row.updated_at > timedelta(minutes=config.timeout_minutes):
        return None
    return row.page


def _typed_choice(text: str, page: AnswerPage) -> AnswerPage | None:
    said = keywords.normalise(text)
    for choice in choices(page):
        if keywords.normalise(choice.label) == said and choice.action.get("type") == "postback":
            from chatbot.actions import parse_postback

            parsed = parse_postback(choice.action["data"])
            if parsed:
                return AnswerPage.objects.live().filter(pk=parsed[0]).first()
    return None


def search(text: str) -> list[tuple[AnswerPage, float]]:
    """Live answer pages for a question, best first, with their scores."""
    results = AnswerPage.objects.live().search(text, operator="or").annotate_score("_score")
    return [(page, float(getattr(page, "_score", 0) or 0)) for page in results[: CANDIDATES + 1]]


def _candidates_answer(pages: list[AnswerPage], config: ChatbotSettings) -> Answer:
    from chatbot.actions import page_action

    items = [Choice(page.choice_label, page_action(page, label=page.choice_label)) for page in pages]
    if top := _top_id(config):
        items.append(top_choice(top))
    message = {"type": "text", "text": CANDIDATE_INTRO, "quickReply": quick_reply(items)}
    return Answer("candidates", [message], candidates=pages)


def _fallback(*, user_id: str, config: ChatbotSettings) -> Answer:
    page = config.fallback_page
    if page is not None and page.live:
        answer = page_answer(page, user_id=user_id, config=config)
        answer.kind = "fallback"
        return answer
    message: dict[str, Any] = {"type": "text", "text": config.fallback_text.strip()}
    if top := _top_id(config):
        message["quickReply"] = quick_reply([top_choice(top)])
    return Answer("fallback", [message])


def answer_text(*, user_id: str, text: str) -> Answer | None:
    """The answer to a typed message (None: the bot stays silent: free text is turned off, or the
    city has no published answer page yet, so there is no chatbot to speak for)."""
    if not AnswerPage.objects.live().exists():
        return None
    config = _settings()
    said = keywords.normalise(text)
    top = _top_id(config)
    if top and said == keywords.normalise(TOP_LABEL):
        return page_answer(AnswerPage.objects.get(pk=top), user_id=user_id, config=config)
    if (current := _current(user_id, config)) and (chosen := _typed_choice(text, current)):
        return page_answer(chosen, user_id=user_id, config=config)
    if (page_id := keywords.match(text)) and (page := AnswerPage.objects.live().filter(pk=page_id).first()):
        return page_answer(page, user_id=user_id, config=config)
    if not config.answer_free_text:
        return None
    found = search(text)
    if found:
        best, score = found[0]
        second = found[1][1] if len(found) > 1 else 0.0
        if score >= CONFIDENT_SCORE and score >= LEAD * second:
            return page_answer(best, user_id=user_id, config=config)
        likely = [page for page, score in found[:CANDIDATES] if score >= CANDIDATE_SCORE]
        if likely:
            return _candidates_answer(likely, config)
    count_unanswered(text=text, keep_text=config.keep_unanswered_text)
    return _fallback(user_id=user_id, config=config)


# --- 未回答の質問 ------------------------------------------------------------------------------------


def question_hash(text: str) -> str:
    key = f"kairan.chatbot.question:{settings.SECRET_KEY}".encode()
    return hmac.new(key, keywords.normalise(text).encode(), hashlib.sha256).hexdigest()


def count_unanswered(*, text: str, keep_text: bool) -> None:
    """Count one more asking of ``text`` (its words kept, encrypted, only if the city keeps them)."""
    digest = question_hash(text)
    now = timezone.now()
    kept = text.strip()[:1000] if keep_text else ""
    updated = UnansweredQuestion.objects.filter(question_hash=digest).update(
        count=F("count") + 1, last_asked_at=now
    )
    if updated:
        if kept and (row := UnansweredQuestion.objects.get(question_hash=digest)) and not row.text:
            row.text = kept  # (the city turned keeping on after the first asking)
            row.save(update_fields=["text"])
        return
    try:
        with transaction.atomic():
            UnansweredQuestion.objects.create(
                question_hash=digest, text=kept, count=1, first_asked_at=now, last_asked_at=now
            )
    except IntegrityError:  # (asked at the same moment by someone else)
        UnansweredQuestion.objects.filter(question_hash=digest).update(
            count=F("count") + 1, last_asked_at=now
        )
