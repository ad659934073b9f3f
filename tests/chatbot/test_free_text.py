"""Free-text questions (自由入力): the Japanese search answers when one page is clearly best, offers
up to 3 candidates when several match, and falls back politely otherwise; unanswered questions are
counted in 未回答の質問, their words kept only when the city turns that on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from chatbot import engine
from chatbot.models import AnswerPage, ChatbotSettings, UnansweredQuestion

pytestmark = pytest.mark.django_db
Converse = Callable[..., list[dict[str, Any]]]


@pytest.fixture
def asking(starter: dict[str, AnswerPage], converse: Converse) -> Converse:
    converse("follow")
    return converse


@pytest.mark.parametrize(
    ("question", "starts"),
    [
        ("粗大ごみの出し方を教えて", "粗大ごみ（指定袋に入らない"),
        ("古い家具を捨てたいのですが", "粗大ごみ（指定袋に入らない"),  # by a phrasing, no keyword
        ("印鑑証明がほしい", "印鑑登録証明書は"),
        ("ペットボトルはどうやって出せばいい？", "缶・びん・ペットボトル・古紙は資源ごみです。"),
        ("インフルエンザの予防接種はいつから", "子どもの定期予防接種は"),
        ("保育園に入りたいです", "保育所・認定こども園の入所申込みは"),
    ],
)
def test_a_question_gets_its_answer_page(asking: Converse, question: str, starts: str) -> None:
    (answer,) = asking("send_text", question)
    assert answer["text"].startswith(starts)
    assert UnansweredQuestion.objects.count() == 0


def test_an_unclear_question_gets_candidates_to_choose_from(asking: Converse) -> None:
    # 「申し込み」 matches 保育所 and 粗大ごみ's 申込みの方法 about as well: the resident chooses.
    (answer,) = asking("send_text", "保育園に申し込みたい")
    labels = [item["action"]["label"] for item in answer["quickReply"]["items"]]
    assert answer["text"] == engine.CANDIDATE_INTRO
    assert labels == ["保育所・こども園", "申込みの方法", "粗大ごみ", "最初に戻る"]
    (page,) = asking("perform", answer["quickReply"]["items"][0]["action"])
    assert page["text"].startswith("保育所・認定こども園の入所申込みは")


def test_an_unmatched_question_is_answered_politely_and_counted_without_its_words(asking: Converse) -> None:
    for question in ("明日の天気を教えて", "明日の天気を教えて！", "ワールドカップの結果"):
        (answer,) = asking("send_text", question)
        assert answer["text"].startswith("申し訳ありません。お答えできる情報が見つかりませんでした。")
    rows = list(UnansweredQuestion.objects.order_by("-count"))
    assert [row.count for row in rows] == [2, 1]  # the same question in its normal form
    assert all(row.text == "" for row in rows)  # (the 2021 guideline: talk is not kept by default)

    config = ChatbotSettings.load()
    config.keep_unanswered_text = True
    config.save()
    asking("send_text", "ワールドカップの結果")
    row = UnansweredQuestion.objects.get(count=2, last_asked_at__gt=rows[0].last_asked_at)
    assert row.text == "ワールドカップの結果"


def test_free_text_can_be_turned_off(asking: Converse) -> None:
    config = ChatbotSettings.load()
    config.answer_free_text = False
    config.save()
    assert asking("send_text", "古い家具を捨てたいのですが") == []
    (answer,) = asking("send_text", "ごみ")  # keywords still answer
    assert answer["text"].startswith("ごみの出し方と分別について")
