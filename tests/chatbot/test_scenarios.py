"""Scenarios as pages, through LINE: the emulator's friend follows, taps choices (postbacks from
quick replies), types a choice's label or a keyword; Kairan answers through its webhook processing
and outbox, and the emulator (which checks every message as LINE does) shows what arrived."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from unittest import mock

import pytest

from chatbot import engine
from chatbot.line_messages import TOP_LABEL
from chatbot.models import AnswerPage, Conversation
from emulator.client import EmulatorControl
from line_channel.models import OutboxItem

pytestmark = pytest.mark.django_db
Converse = Callable[..., list[dict[str, Any]]]


def quick_labels(message: dict[str, Any]) -> list[str]:
    return [item["action"]["label"] for item in (message.get("quickReply") or {}).get("items", [])]


def quick_action(message: dict[str, Any], label: str) -> dict[str, Any]:
    return next(i["action"] for i in message["quickReply"]["items"] if i["action"]["label"] == label)


def test_greeting_then_three_levels_of_buttons_to_the_answer(
    starter: dict[str, AnswerPage], converse: Converse
) -> None:
    (greeting,) = converse("follow")
    assert greeting["text"].startswith("友だち追加ありがとうございます。")
    assert quick_labels(greeting) == [TOP_LABEL]

    menu = converse("perform", quick_action(greeting, TOP_LABEL))
    assert menu[-1]["text"].startswith("市の LINE 公式アカウントです。")
    assert quick_labels(menu[-1])[:3] == ["ごみの出し方・分別", "窓口・開庁時間", "各種証明書"]
    assert TOP_LABEL not in quick_labels(menu[-1])  # (the top page itself)

    gomi = converse("perform", quick_action(menu[-1], "ごみの出し方・分別"))
    assert quick_labels(gomi[-1]) == ["ごみの分別", "粗大ごみ", "収集日の確認", TOP_LABEL]
    sodai = converse("perform", quick_action(gomi[-1], "粗大ごみ"))
    assert sodai[-1]["text"].startswith("粗大ごみ（指定袋に入らない")
    fee = converse("perform", quick_action(sodai[-1], "料金"))
    assert fee[-1]["text"].startswith("料金は1点につき") and quick_labels(fee[-1]) == [TOP_LABEL]


def test_typing_a_choice_label_continues_until_the_conversation_times_out(
    starter: dict[str, AnswerPage], converse: Converse, friend: str
) -> None:
    converse("follow")
    converse("postback", f"chatbot={starter['menu/bousai'].pk}")
    with mock.patch.object(engine, "search", wraps=engine.search) as searched:
        (answer,) = converse("send_text", "避難所")
        assert answer["text"].startswith("市内の指定避難所は") and searched.call_count == 0
        # After the timeout 「ハザードマップ」 is no longer taken as a choice: the search answers.
        converse("postback", f"chatbot={starter['menu/bousai'].pk}")
        Conversation.objects.update(updated_at=Conversation.objects.get().updated_at.replace(year=2020))
        (later,) = converse("send_text", "ハザードマップ")
        assert searched.call_count == 1
    assert later["text"].startswith("津波・洪水・土砂災害のハザードマップ")


def test_keywords_exact_and_contained_by_priority(starter: dict[str, AnswerPage], converse: Converse) -> None:
    converse("follow")
    (answer,) = converse("send_text", "ゴミ")  # exact keyword 「ごみ」, katakana folded
    assert answer["text"].startswith("ごみの出し方と分別について")
    (answer,) = converse("send_text", "粗大ごみってどうやって出すの？")  # contains 「粗大ごみ」 (priority 10)
    assert answer["text"].startswith("粗大ごみ（指定袋に入らない")
    (answer,) = converse("send_text", "メニュー")
    assert answer["text"].startswith("市の LINE 公式アカウントです。")


def test_a_tap_on_an_unpublished_page_is_not_answered_but_a_tester_sees_the_draft(
    starter: dict[str, AnswerPage], converse: Converse, friend: str
) -> None:
    from deliveries.models import Tester
    from line_channel.models import Follower

    converse("follow")
    page = starter["menu/kenko/tokutei"]
    page.unpublish()
    assert converse("postback", f"chatbot={page.pk}") == []
    assert converse("postback", f"chatbot={page.pk}&draft=1") == []  # not a tester
    Tester.objects.create(follower=Follower.objects.get(line_user_id=friend), label="健康推進課")
    (draft,) = converse("postback", f"chatbot={page.pk}&draft=1")
    assert draft["text"].startswith("40歳から74歳の国民健康保険の方は")


def test_each_event_is_answered_once(
    starter: dict[str, AnswerPage], converse: Converse, emu: EmulatorControl, friend: str
) -> None:
    from line_channel import events
    from line_channel.models import WebhookEvent

    converse("follow")
    converse("send_text", "ごみ")
    WebhookEvent.objects.update(state=WebhookEvent.State.PENDING, claimed_at=None)
    events.process_pending()
    assert OutboxItem.objects.filter(purpose__startswith="reply:").count() == 2  # greeting, answer


def test_a_rich_menu_area_starts_the_scenario(
    starter: dict[str, AnswerPage], converse: Converse, emu: EmulatorControl, friend: str
) -> None:
    """The demo's everyday menu: its ごみ・リサイクル area opens the answer page 「ごみの出し方・分別」
    with a postback (no typed message), then three levels of buttons reach the answer."""
    from unittest import mock

    from django.contrib.auth.models import User

    from richmenus import publish
    from richmenus.demo import seed_rich_menus

    publisher = User.objects.create_superuser(username="shonin")
    with mock.patch("richmenus.signals.async_task"):
        everyday, _ = seed_rich_menus(publisher=publisher)
    everyday.refresh_from_db()
    publish.publish(menu_set_id=everyday.pk, revision_id=everyday.live_revision_id)  # type: ignore[arg-type]
    converse("follow")
    shown = emu.user_rich_menu(friend)["richMenu"]
    gomi = starter["menu/gomi"]
    index = next(
        n for n, area in enumerate(shown["areas"]) if area["action"].get("data") == f"chatbot={gomi.pk}"
    )
    assert shown["areas"][index]["action"]["displayText"] == "ごみ・リサイクル"

    first = converse("tap", area=index)
    assert first[-1]["text"].startswith("ごみの出し方と分別について")
    second = converse("perform", quick_action(first[-1], "ごみの分別"))
    third = converse("perform", quick_action(second[-1], "資源ごみ"))
    assert third[-1]["text"].startswith("缶・びん・ペットボトル・古紙は資源ごみです。")


def test_the_greeting_and_the_my_page_invitation_are_one_reply(
    starter: dict[str, AnswerPage], emu: EmulatorControl, friend: str, settings: Any
) -> None:
    """LINE takes one reply per reply token: the greeting page and マイページの案内 go out together
    as the follow's reply (greeting first), the greeting's quick replies under the last message."""
    from tests.chatbot.conftest import deliver

    settings.KAIRAN_LIFF_ID = "2000000002-kairan01"
    deliver(emu.follow(friend))
    received = emu.received(friend)
    assert {entry["endpoint"] for entry in received} == {"reply"}
    assert len({entry["request_id"] for entry in received}) == 1
    *greeting, invitation = [entry["message"] for entry in received]
    assert greeting[0]["text"].startswith("友だち追加ありがとうございます")
    assert invitation["type"] == "template" and "liff.line.me" in str(invitation["template"]["actions"])
    assert not any("quickReply" in message for message in greeting)
    assert quick_labels(invitation) == [TOP_LABEL]
    assert OutboxItem.objects.get().purpose.startswith("reply:")
