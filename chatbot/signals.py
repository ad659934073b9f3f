"""Keep every process's copy of the chatbot's content (``chatbot.content``) in step: any page
published, unpublished, moved or deleted (answer pages, and the pages and forms their choices open),
and the settings answers are made from (the chatbot's settings, LINE連携設定 with the LIFF app that
forms open in, images)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from wagtail.images import get_image_model
from wagtail.models import Page
from wagtail.signals import page_published, page_unpublished, post_page_move

from chatbot import content
from chatbot.models import AnswerPage, ChatbotSettings
from line_channel.models import LineChannelSettings


def _changed(**kwargs: Any) -> None:
    content.forget()  # (this thread sees its own change at once, committed or not)
    transaction.on_commit(content.changed)


page_published.connect(_changed, dispatch_uid="chatbot-content-published")
page_unpublished.connect(_changed, dispatch_uid="chatbot-content-unpublished")
post_page_move.connect(_changed, dispatch_uid="chatbot-content-moved")
# (by sender: a receiver for every model would turn Django's fast deletes off everywhere)
for model in (Page, AnswerPage):
    post_delete.connect(_changed, sender=model, dispatch_uid=f"chatbot-content-deleted-{model.__name__}")
for model in (ChatbotSettings, LineChannelSettings, get_image_model()):
    post_save.connect(_changed, sender=model, dispatch_uid=f"chatbot-content-saved-{model.__name__}")
