"""Django-Q tasks of the LINE channel's inbound side. Every task is idempotent.

The webhook receiver stores events and calls ``request_processing``, which enqueues at most one
``process_webhook_events`` task per second across every web process: the first request of each
one-second slot (per process, then across processes through the shared cache) enqueues it, and
the task keeps collecting new events until its slot is over, so an event that arrived after the
task's last look is never left waiting for the next slot's request. The every-minute schedule
``process_pending_webhook_events`` processes anything still pending (a cluster that was stopped,
a task that failed), so nothing stored is lost.
"""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError
from django_q.tasks import async_task

from line_channel import events, followers

log = logging.getLogger(__name__)

SLOT_SECONDS = 1.0
# The task looks once more this long after its slot ended (clock skew between processes).
SLOT_MARGIN_SECONDS = 0.25
POLL_SECONDS = 0.05
TASK = "line_channel.tasks.process_webhook_events"

_slot_lock = threading.Lock()
_last_slot = -1


def request_processing(*, now: float | None = None) -> bool:
    """Make sure a task processes what was just stored; True when this call enqueued one.

    Cheap on the hot path: only the first call of each slot in a process touches the shared
    cache (``cache.add`` succeeds for one caller per slot), and only that one enqueues.
    """
    global _last_slot
    now = time.time() if now is None else now
    slot = int(now // SLOT_SECONDS)
    with _slot_lock:
        if slot == _last_slot:
            return False
        _last_slot = slot
    try:
        if not cache.add(f"line_channel:webhook-task:{slot}", 1, timeout=30):
            return False
        async_task(
            TASK,
            until=(slot + 1) * SLOT_SECONDS + SLOT_MARGIN_SECONDS,
            group="line_channel.webhook",
            save=False,
        )
    except DatabaseError:
        log.exception("could not enqueue webhook processing; the every-minute schedule will do it")
        return False
    return True


def process_webhook_events(until: float | None = None) -> int:
    """Process pending events; with ``until`` (epoch seconds), keep looking for new ones until then."""
    total = events.process_pending().total
    while until is not None and time.time() < until:
        time.sleep(max(0.0, min(POLL_SECONDS, until - time.time())))
        total += events.process_pending().total
    return total


def process_pending_webhook_events() -> int:
    """Schedule (every minute): process whatever is still pending."""
    return events.process_pending(max_seconds=50.0).total


def purge_old_webhook_events() -> int:
    """Schedule (daily): forget finished webhook events after KAIRAN_LINE_EVENT_RETENTION_DAYS."""
    return events.purge_old_events(days=settings.KAIRAN_LINE_EVENT_RETENTION_DAYS)


def refresh_follower_profiles() -> int:
    """Schedule: fetch the profiles that could not be fetched when the friends followed."""
    return followers.refresh_missing_profiles()
