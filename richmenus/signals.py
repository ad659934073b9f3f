"""Publishing a メニューセット in Wagtail publishes it to LINE (after the commit, in Django-Q)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django_q.tasks import async_task
from wagtail.signals import published, unpublished

from richmenus.models import MenuSet


def on_published(sender: Any, instance: MenuSet, revision: Any = None, **kwargs: Any) -> None:
    revision = revision or instance.live_revision
    if revision is None:
        return
    menu_set_id, revision_id = instance.pk, revision.pk
    transaction.on_commit(
        lambda: async_task("richmenus.tasks.publish", menu_set_id, revision_id, group="richmenus"),
        robust=True,
    )


published.connect(on_published, sender=MenuSet, dispatch_uid="richmenus.published")


def on_unpublished(sender: Any, instance: MenuSet, **kwargs: Any) -> None:
    menu_set_id = instance.pk
    transaction.on_commit(
        lambda: async_task("richmenus.tasks.unpublish", menu_set_id, group="richmenus"), robust=True
    )


unpublished.connect(on_unpublished, sender=MenuSet, dispatch_uid="richmenus.unpublished")
