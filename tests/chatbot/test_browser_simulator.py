"""The chatbot in the phone simulator, in a real browser: a new friend gets the greeting; the rich
menu's ごみ・リサイクル area starts the scenario, three levels of quick reply buttons reach the
answer; a keyword starts a scenario; a free-text question gets its answer page; a question the bot
cannot answer gets the fallback and appears in 未回答の質問.

The emulator posts signed webhooks to Django's live server; a stand-in for the Django-Q cluster
(``queue_worker``, a thread taking tasks off the ORM queue) processes the events and sends the
replies through the outbox, as ``make run`` does."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import expect

from chatbot.models import AnswerPage, UnansweredQuestion
from emulator.client import EmulatorControl
from emulator.server import RunningEmulator
from richmenus import publish
from richmenus.demo import seed_rich_menus
from tests.line.conftest import webhook_to  # noqa: F401 - fixture
from tests.line.test_browser_followers import queue_worker  # noqa: F401 - fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_a_resident_talks_with_the_bot_in_the_phone_simulator(
    browser: Any,
    live_server: Any,
    line_emulator: RunningEmulator,
    emu: EmulatorControl,
    line_channel: Any,
    webhook_to: Any,  # noqa: F811 - the fixture
    starter: dict[str, AnswerPage],
    queue_worker: list[str],  # noqa: F811 - the fixture
) -> None:
    with mock.patch("richmenus.signals.async_task"):
        everyday, _ = seed_rich_menus(publisher=User.objects.create_superuser(username="shonin"))
    everyday.refresh_from_db()
    publish.publish(menu_set_id=everyday.pk, revision_id=everyday.live_revision_id)  # type: ignore[arg-type]
    webhook_to(live_server.url)

    context = browser.new_context(
        viewport={"width": 1366, "height": 900}, locale="ja-JP", base_url=line_emulator.url
    )
    try:
        phone = context.new_page()
        phone.set_default_timeout(15_000)
        phone.goto("/")
        phone.get_by_label("新しい住民の表示名").fill("大船渡 花子")
        phone.get_by_role("button", name="住民を作成").click()
        expect(phone.locator("#sim-message")).to_have_text("住民「大船渡 花子」を作成しました。")
        phone.get_by_role("button", name="友だち追加").click()
        log = phone.get_by_role("log")
        quick = phone.get_by_role("group", name="クイックリプライ")

        def bot_says(text: str) -> None:
            expect(log.get_by_text(text, exact=False).last).to_be_visible()

        bot_says("友だち追加ありがとうございます。")

        # The rich menu's ごみ・リサイクル area starts the scenario with a postback: the talk shows
        # the area's label as the resident's words, then the answer with its buttons.
        menu = phone.get_by_role("group", name="リッチメニュー：メニュー")
        menu.get_by_role("button", name="ごみ・リサイクル").click()
        bot_says("ごみの出し方と分別についてご案内します。")
        quick.get_by_role("button", name="粗大ごみ").click()
        bot_says("粗大ごみ（指定袋に入らない家具・自転車・布団など）は、申込みが必要です。")
        quick.get_by_role("button", name="料金").click()
        bot_says("料金は1点につき 300円〜1,500円 です")
        expect(quick.get_by_role("button")).to_have_text(["最初に戻る"])

        def say(text: str) -> None:
            phone.get_by_label("メッセージ", exact=True).fill(text)
            phone.get_by_role("button", name="送信").click()

        # A keyword starts a scenario.
        say("子育て")
        bot_says("子育てに関する支援をご案内します。")
        expect(quick.get_by_role("button", name="児童手当")).to_be_visible()

        # A free-text question: the Japanese search finds the answer page.
        say("古い家具を捨てたいのですが")
        expect(log.get_by_text("粗大ごみ（指定袋に入らない家具")).to_have_count(2)

        # A question the bot cannot answer: the fallback, and 未回答の質問 counts it.
        say("来週の天気はどうですか")
        bot_says("申し訳ありません。お答えできる情報が見つかりませんでした。")
        assert UnansweredQuestion.objects.get().count == 1
        expect(quick.get_by_role("button")).to_have_text(["市役所に電話", "最初に戻る"])
    finally:
        context.close()
