"""Django-Q tasks of the core app. Every task is idempotent."""

from __future__ import annotations

from django.utils import timezone

from kairan.core.models import Heartbeat

QCLUSTER_HEARTBEAT = "qcluster"


def heartbeat() -> None:
    """Record that a Django-Q cluster is running and executing scheduled tasks."""
    Heartbeat.objects.update_or_create(name=QCLUSTER_HEARTBEAT, defaults={"beat_at": timezone.now()})


def publish_scheduled() -> str:
    """Wagtail's scheduled publishing (pages and snippets such as メニューセット): publish what
    reached its 公開日時 and unpublish what passed its 非公開日時. Publishing twice is refused by
    Wagtail itself (a revision is published once), so a repeated run changes nothing."""
    import io

    from django.core.management import call_command

    out = io.StringIO()
    call_command("publish_scheduled", stdout=out)
    return out.getvalue().strip()
