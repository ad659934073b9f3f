"""Keep the keyword table of every process in step with the published pages."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver
from wagtail.signals import page_published, page_unpublished, post_page_move

from chatbot import keywords
from chatbot.models import AnswerPage


def _changed(**kwargs: Any) -> None:
    transaction.on_commit(keywords.changed)


for signal in (page_published, page_unpublished):
    signal.connect(_changed, sender=AnswerPage, dispatch_uid=f"chatbot-keywords-{id(signal)}")


@receiver(post_page_move, dispatch_uid="chatbot-keywords-move")
@receiver(post_delete, sender=AnswerPage, dispatch_uid="chatbot-keywords-delete")
def _moved_or_deleted(**kwargs: Any) -> None:
    _changed()
