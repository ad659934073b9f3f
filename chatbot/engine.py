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
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from chatbot import content, keywords
from chatbot.actions import answer_action
from chatbot.line_messages import TOP_LABEL, Choice, answer_messages, quick_reply, top_choice
from chatbot.models import AnswerPage, Conversation, UnansweredQuestion
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
    page_id: int | None = None
    candidates: list[int] = field(default_factory=list)

    @property
    def page(self) -> AnswerPage | None:
        return AnswerPage.objects.filter(pk=self.page_id).first() if self.page_id else None


def remember(*, user_id: str, page_id: int | None) -> None:
    """Where the resident is now: one ``INSERT … ON CONFLICT DO UPDATE`` (SQLite and PostgreSQL),
    written out because it runs for nearly every message (the ORM's ``bulk_create`` with
    ``update_conflicts`` costs several times as much Python)."""
    quote = connection.ops.quote_name
    table = quote(Conversation._meta.db_table)
    user, page, at = (quote(name) for name in ("line_user_hash", "page_id", "updated_at"))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({user}, {page}, {at}) VALUES (%s, %s, %s) "  # noqa: S608 - model names
            f"ON CONFLICT ({user}) DO UPDATE SET {page} = excluded.{page}, {at} = excluded.{at}",
            [line_user_hash(user_id), page_id, connection.ops.adapt_datetimefield_value(timezone.now())],
        )


def page_answer(page_id: int, *, user_id: str, bot: content.Content | None = None) -> Answer | None:
    """Answer with the live page ``page_id`` and remember where the resident is (None: not live)."""
    held = (bot or content.current()).page(page_id)
    if held is None:
        return None
    remember(user_id=user_id, page_id=page_id)
    return Answer("page", held.messages, page_id=page_id)


def _draft_answer(page: AnswerPage, *, user_id: str) -> Answer:
    """A tester's tap on a draft: the page's latest revision, rendered for this tap."""
    shown = page.get_latest_revision_as_object()
    messages = answer_messages(shown, top_id=content.current().top_id, draft=True)
    remember(user_id=user_id, page_id=page.pk)
    return Answer("page", messages, page_id=page.pk)


def _is_tester(user_id: str) -> bool:
    from deliveries.models import Tester

    return Tester.objects.filter(follower__line_user_id=user_id).exists()


def answer_tap(data_page: int, *, user_id: str, draft: bool = False) -> Answer | None:
    """The answer to a tap naming a page; None when the page is gone or not published (drafts are
    shown to testers only)."""
    if draft and _is_tester(user_id):
        page = AnswerPage.objects.filter(pk=data_page).first()
        return _draft_answer(page, user_id=user_id) if page is not None else None
    return page_answer(data_page, user_id=user_id)


def greeting(*, user_id: str) -> Answer | None:
    bot = content.current()
    return page_answer(bot.greeting_id, user_id=user_id, bot=bot) if bot.greeting_id else None


def _current(user_id: str, bot: content.Content) -> int | None:
    """The page the resident was last answered with, while the conversation is fresh."""
    row = (
        Conversation.objects.filter(line_user_hash=line_user_hash(user_id))
        .values_list("page_id", "updated_at")
        .first()
    )
    if row is None or row[0] is None or timezone.now() - row[1] > bot.timeout:
        return None
    return int(row[0])


@dataclass(frozen=True)
class Found:
    page_id: int
    label: str
    score: float


def search(text: str) -> list[Found]:
    """Live answer pages for a question, best first, with their scores (remembered per question
    until pages are published again)."""

    def run() -> list[Found]:
        pages = AnswerPage.objects.live().only("id", "title", "button_label")  # (no bodies: not needed)
        results = pages.search(text, operator="or").annotate_score("_score")[: CANDIDATES + 1]
        return [Found(page.pk, page.choice_label, float(getattr(page, "_score", 0) or 0)) for page in results]

    return content.current().remembered("search:" + text.strip(), run)


def _candidates_answer(found: list[Found], bot: content.Content) -> Answer:
    items = [Choice(page.label, answer_action(page.page_id, label=page.label)) for page in found]
    if bot.top_id:
        items.append(top_choice(bot.top_id))
    message = {"type": "text", "text": CANDIDATE_INTRO, "quickReply": quick_reply(items)}
    return Answer("candidates", [message], candidates=[page.page_id for page in found])


def _fallback(*, user_id: str, bot: content.Content) -> Answer:
    if bot.fallback_id and (answer := page_answer(bot.fallback_id, user_id=user_id, bot=bot)):
        answer.kind = "fallback"
        return answer
    message: dict[str, Any] = {"type": "text", "text": bot.fallback_text}
    if bot.top_id:
        message["quickReply"] = quick_reply([top_choice(bot.top_id)])
    return Answer("fallback", [message])


def answer_text(*, user_id: str, text: str) -> Answer | None:
    """The answer to a typed message (None: the bot stays silent: free text is turned off, or the
    city has no published answer page yet, so there is no chatbot to speak for)."""
    bot = content.current()
    if not bot.live:
        return None
    said = keywords.normalise(text)
    if bot.top_id and said == keywords.normalise(TOP_LABEL):
        return page_answer(bot.top_id, user_id=user_id, bot=bot)
    if (
        said in bot.choice_labels
        and (at := _current(user_id, bot))
        and (held := bot.page(at))
        and (chosen := held.typed.get(said))
        and (answer := page_answer(chosen, user_id=user_id, bot=bot))
    ):
        return answer
    if (page_id := bot.keywords.match(text)) and (answer := page_answer(page_id, user_id=user_id, bot=bot)):
        return answer
    if not bot.answer_free_text:
        return None
    found = search(text)
    if found:
        best = found[0]
        second = found[1].score if len(found) > 1 else 0.0
        confident = best.score >= CONFIDENT_SCORE and best.score >= LEAD * second
        if confident and (answer := page_answer(best.page_id, user_id=user_id, bot=bot)):
            return answer
        likely = [page for page in found[:CANDIDATES] if page.score >= CANDIDATE_SCORE]
        if likely:
            return _candidates_answer(likely, bot)
    count_unanswered(text=text, keep_text=bot.keep_unanswered_text)
    return _fallback(user_id=user_id, bot=bot)


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
