"""The chatbot's published content as each process holds it.

Answering a message must not cost a dozen queries: the bot's settings, which answer pages are live,
the keyword table and each page's LINE messages are the same for every resident until staff publish
something. Each process keeps them (``current()``; a page's messages are rendered on first use) and
drops them

- at once, when a change commits in this process (``changed()``, called by ``chatbot.signals`` after
  any page is published, unpublished, moved or deleted, or the chatbot's settings, LINE連携設定 or
  an image are saved);
- when the shared version in the cache differs (another process saw such a change), looked at no
  more often than ``KAIRAN_CHATBOT_CONTENT_CHECK_SECONDS`` (1 s): a change reaches every web and
  cluster process within about a second;
- and after ``RELOAD_SECONDS`` in any case (a change that no signal announced, such as a script
  writing to the database).

Drafts sent to testers are never held: they are rendered for each tap.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar, cast

from django.conf import settings
from django.core.cache import cache

from chatbot.keywords import KeywordTable, normalise

VERSION_KEY = "chatbot:content:version"
RELOAD_SECONDS = 300.0
PAGES_HELD = 5000  # rendered pages per process (a city's scraped homepage may have thousands)
REMEMBERED_HELD = 20000  # e.g. questions searched
T = TypeVar("T")


@dataclass(frozen=True)
class HeldPage:
    """A live answer page as the bot sends it."""

    label: str  # its button label (as a choice or a search candidate)
    messages: list[dict[str, Any]]  # not to be changed: shared by every answer
    typed: dict[str, int]  # a choice label typed (normal form) → the answer page it leads to


class Content:
    """One process's copy of what the bot answers with, at one version."""

    def __init__(self, version: str | None) -> None:
        from chatbot.models import AnswerPage, ChatbotSettings

        self.version = version
        self.expires = time.monotonic() + RELOAD_SECONDS
        config = ChatbotSettings.load()
        self.live = frozenset(AnswerPage.objects.live().values_list("pk", flat=True))
        self.top_id = self._live(config.top_page_id)
        self.greeting_id = self._live(config.greeting_page_id)
        self.fallback_id = self._live(config.fallback_page_id)
        self.fallback_text = config.fallback_text.strip()
        self.answer_free_text = config.answer_free_text
        self.timeout = timedelta(minutes=config.timeout_minutes)
        self.keep_unanswered_text = config.keep_unanswered_text
        self.keywords = KeywordTable.load()
        self.choice_labels = self._choice_labels()
        self._pages: dict[int, HeldPage] = {}
        self._remembered: dict[str, Any] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _choice_labels() -> frozenset[str]:
        """Every label (normal form) a choice leading to an answer page can have: the live pages'
        own labels and the labels of extra choices naming a page. A message that is none of
        these cannot be a choice typed, so the resident's conversation need not be read."""
        from chatbot.models import AnswerPage

        labels = set()
        for title, button_label, extra in AnswerPage.objects.live().values_list(
            "title", "button_label", "extra_choices"
        ):
            labels.add(normalise((button_label or title)[:20]))
            for raw in getattr(extra, "raw_data", None) or []:  # (raw: no pages fetched)
                if raw.get("type") == "page" and isinstance(raw.get("value"), dict):
                    labels.add(normalise(str(raw["value"].get("label") or "")[:20]))
        return frozenset(labels)

    def remembered(self, key: str, compute: Callable[[], T]) -> T:
        """``compute()`` for ``key``, once per content version (e.g. a question's search results,
        which change only when pages are published)."""
        if key in self._remembered:
            return cast(T, self._remembered[key])
        value = compute()
        with self._lock:
            if len(self._remembered) >= REMEMBERED_HELD:
                self._remembered.clear()
            self._remembered[key] = value
        return value

    def _live(self, page_id: int | None) -> int | None:
        return page_id if page_id in self.live else None

    def page(self, page_id: int) -> HeldPage | None:
        """The live answer page ``page_id`` as sent; None when it is not live."""
        if page_id not in self.live:
            return None
        held = self._pages.get(page_id)
        if held is None:
            held = self._render(page_id)
            if held is None:
                return None
            with self._lock:
                if len(self._pages) >= PAGES_HELD:
                    self._pages.clear()
                self._pages[page_id] = held
        return held

    def _render(self, page_id: int) -> HeldPage | None:
        from chatbot.actions import parse_postback
        from chatbot.line_messages import answer_messages, choices
        from chatbot.models import AnswerPage

        page = AnswerPage.objects.live().filter(pk=page_id).first()
        if page is None:
            return None
        typed: dict[str, int] = {}
        for choice in choices(page):
            parsed = parse_postback(str(choice.action.get("data") or ""))
            if choice.action.get("type") == "postback" and parsed and parsed[0] in self.live:
                typed.setdefault(normalise(choice.label), parsed[0])
        return HeldPage(page.choice_label, answer_messages(page, top_id=self.top_id), typed)


_held: Content | None = None
_checked_at = 0.0
_lock = threading.Lock()


def _shared_version() -> str | None:
    version = cache.get(VERSION_KEY)
    if version is None:  # (a cleared cache: start a new version, so no process keeps an old copy)
        cache.add(VERSION_KEY, uuid.uuid4().hex, None)
        version = cache.get(VERSION_KEY)
    return str(version) if version is not None else None


def current() -> Content:
    """This process's copy of the published content, reloaded as the module docstring says."""
    global _held, _checked_at
    now = time.monotonic()
    held = _held
    interval = float(settings.KAIRAN_CHATBOT_CONTENT_CHECK_SECONDS)
    if held is not None and now < held.expires and now - _checked_at < interval:
        return held
    version = _shared_version()
    with _lock:
        _checked_at = now
        held = _held
        if held is None or held.version != version or now >= held.expires:
            held = _held = Content(version)
        return held


def forget() -> None:
    """Drop this process's copy (the next ``current()`` loads the content again)."""
    global _held
    _held = None


def changed() -> None:
    """Tell this and every other process that the content changed (after the change committed)."""
    forget()
    cache.set(VERSION_KEY, uuid.uuid4().hex, None)  # (not a counter: a rolled-back one repeats)
