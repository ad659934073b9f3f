"""Chatbot fixtures: the starter pack published under the site root and wired as the bot's pages,
a friend in the LINE emulator, and ``converse``: what the friend does in LINE goes through Kairan's
webhook processing and outbox back to the emulator, which keeps what the friend received."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import chatbot
from emulator.client import EmulatorControl
from tests.line.conftest import line_channel  # noqa: F401 - fixture

STARTER = Path(chatbot.__file__).resolve().parent / "starter" / "starter-pack.json"


@pytest.fixture
def starter(db: None) -> dict[str, Any]:
    """The starter pack, published under the site root; returns its pages by slug path."""
    from wagtail.models import Page

    from chatbot import transfer
    from chatbot.models import AnswerPage, ChatbotSettings

    root = Page.objects.get(depth=2)
    _tops, problems = transfer.import_tree(
        document=transfer.parse(STARTER.read_text(encoding="utf-8")), parent=root, publish=True
    )
    assert problems == []
    pages = {page.url_path[len(root.url_path) :].strip("/"): page for page in AnswerPage.objects.all()}
    config = ChatbotSettings.load()
    config.top_page, config.greeting_page, config.fallback_page = (
        pages["menu"],
        pages["aisatsu"],
        pages["wakaranai"],
    )
    config.save()
    return pages


@pytest.fixture
def friend(line_channel: Any, emu: EmulatorControl) -> str:  # noqa: F811 - the fixture
    user = emu.create_user("大船渡 一郎")
    return str(user["user_id"])


def deliver(result: dict[str, Any]) -> None:
    """Hand the events an emulator action produced to Kairan (as its webhook would), process them
    and send what they queued."""
    from line_channel import events, tasks_outbox

    body = {"destination": "Ukairan", "events": result["events"]}
    events.store_events(events.parse_body(json.dumps(body, ensure_ascii=False).encode()))
    events.process_pending()
    tasks_outbox.pump(threads=1, seconds=10)


@pytest.fixture
def converse(emu: EmulatorControl, friend: str) -> Callable[..., list[dict[str, Any]]]:
    """``converse(action, *args)`` runs an emulator user action for the friend (``"send_text"``,
    ``"follow"``, ``"tap"``, ``"perform"``, …) through Kairan; returns the messages the friend
    received since."""

    def _do(action: str, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        before = len(emu.received(friend))
        deliver(getattr(emu, action)(friend, *args, **kwargs))
        return [entry.get("message", entry) for entry in emu.received(friend)[before:]]

    return _do
