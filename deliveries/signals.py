"""Wagtail's publishing of a delivery is its approval: publishing schedules it, unpublishing
cancels what has not started."""

from __future__ import annotations

from typing import Any

from wagtail.signals import published, unpublished

from deliveries import services
from deliveries.models import Delivery


def on_published(sender: Any, instance: Delivery, revision: Any = None, **kwargs: Any) -> None:
    if revision is None:
        revision = instance.live_revision
    services.schedule_published(delivery=instance, revision=revision)


def on_unpublished(sender: Any, instance: Delivery, user: Any = None, **kwargs: Any) -> None:
    services.cancel_delivery(delivery=instance, user=user)


published.connect(on_published, sender=Delivery, dispatch_uid="deliveries.published")
unpublished.connect(on_unpublished, sender=Delivery, dispatch_uid="deliveries.unpublished")
