"""Django-Q tasks of the core app. Every task is idempotent."""

from __future__ import annotations

from django.utils import timezone

from kairan.core.models import Heartbeat

QCLUSTER_HEARTBEAT = "qcluster"


def heartbeat() -> None:
    """Record that a Django-Q cluster is running and executing scheduled tasks."""
    Heartbeat.objects.update_or_create(name=QCLUSTER_HEARTBEAT, defaults={"beat_at": timezone.now()})
