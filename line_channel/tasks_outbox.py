"""Django-Q tasks that send the outbox (``line_channel.outbox``).

``pump`` sends due items until none are left or its time budget is spent, with a few threads so
network calls overlap; every claim and every outcome is its own short transaction, so the pump
may be killed at any moment and run twice or in several clusters at once. ``kick`` starts pumps
(one per Django-Q worker of all running clusters) after an enqueue commits, at most about once
a second; ``tick`` (every minute) puts abandoned items back in the queue and starts pumps for
whatever is due.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connections
from django_q.conf import Conf
from django_q.status import Stat
from django_q.tasks import async_task

from line_channel import outbox, ratelimit
from line_channel.gateway import Gateway, credentials

log = logging.getLogger(__name__)

PUMP_TASK = "line_channel.tasks_outbox.pump"
KICK_KEY = "line_channel:outbox:kick"
# At most one kick per this many seconds. (Django's database cache keeps expiry times in whole
# seconds, so a 1-second entry could live anywhere from 0 to 1 s: 2 gives the guard at least 1 s.)
KICK_SECONDS = 2
PUMPING_KEY = "line_channel:outbox:pumping"
PUMPING_SECONDS = 5  # a pump says it is alive at least this often (once a second)
IDLE_WAIT_SECONDS = 10.0  # a pump waits for work that becomes due this soon, then ends
ERROR_PAUSE_SECONDS = 0.5
GUARDED_PAUSE_SECONDS = 0.05  # while a kick is fresh (a fan-out is queueing), look again this soon


def pumps_per_kick() -> int:
    """One pump per Django-Q worker: of every running cluster (their status is in the shared
    cache), or of this process's configuration when none has reported yet."""
    running = sum(len(stat.workers) for stat in Stat.get_all())
    return max(1, int(Conf.WORKERS or 1), running)


def kick(*, force: bool = False) -> int:
    """Queue pump tasks unless pumps were queued less than a second ago; return how many.

    A skipped kick loses nothing: pumps keep looking for work while the guard is held.
    """
    if force:
        cache.set(KICK_KEY, time.time(), timeout=KICK_SECONDS)
    elif not cache.add(KICK_KEY, time.time(), timeout=KICK_SECONDS):
        return 0
    count = pumps_per_kick()
    for _ in range(count):
        async_task(PUMP_TASK, group="line-outbox")
    return count


def _idle_pause(deadline: float) -> float | None:
    """Seconds to wait before looking again, or None when the pump should end."""
    remaining = deadline - time.monotonic()
    # The guard first: an enqueue whose kick it skipped committed before the guard expired,
    # so once it has expired the look at the queue below sees that enqueue's items.
    guarded = cache.get(KICK_KEY) is not None
    wait = outbox.seconds_until_claimable()
    if wait is not None and wait <= min(IDLE_WAIT_SECONDS, remaining):
        return min(max(wait, 0.05), 1.0)
    if guarded and remaining > 0.2:
        return GUARDED_PAUSE_SECONDS
    return None


def _drain(access_token: str, deadline: float) -> Counter[str]:
    """One sender: claim, send, record, until nothing is due or the deadline passes."""
    counts: Counter[str] = Counter()
    gateway = Gateway(access_token=access_token)
    reply_gateway = Gateway(access_token=access_token, attempts=1)
    alive_at = 0.0
    try:
        while time.monotonic() < deadline:
            if time.monotonic() - alive_at >= 1:
                cache.set(PUMPING_KEY, 1, timeout=PUMPING_SECONDS)
                alive_at = time.monotonic()
            try:
                item = outbox.claim_next()
                if item is None:
                    pause = _idle_pause(deadline)
                    if pause is None:
                        break
                    time.sleep(pause)
                    continue
                counts[outbox.send_claimed(item, gateway=gateway, reply_gateway=reply_gateway) or "lost"] += 1
            except Exception:
                # Database trouble, most likely: the claimed item (if any) is reclaimed later.
                log.exception("outbox sender failed; continuing")
                counts["errors"] += 1
                time.sleep(ERROR_PAUSE_SECONDS)
    finally:
        gateway.close()
        reply_gateway.close()
    return counts


def _drain_in_thread(access_token: str, deadline: float) -> Counter[str]:
    try:
        return _drain(access_token, deadline)
    finally:
        connections.close_all()  # this thread's connections


def pump(*, seconds: float | None = None, threads: int | None = None) -> dict[str, Any]:
    """Send due outbox items for at most ``seconds`` with ``threads`` senders; return counts."""
    started = time.monotonic()
    budget = float(seconds if seconds is not None else settings.KAIRAN_OUTBOX_PUMP_SECONDS)
    # Stay well inside Django-Q's task timeout, which would kill the worker.
    budget = min(budget, max(1.0, float(Conf.TIMEOUT or 300) - 10))
    senders = threads if threads is not None else settings.KAIRAN_OUTBOX_THREADS
    access_token = credentials().access_token
    if not access_token:
        log.warning("outbox: LINE連携設定 has no access token; nothing sent")
        return {"sent": 0, "not_configured": True}
    deadline = started + budget
    counts: Counter[str] = Counter()
    if senders <= 1:
        counts = _drain(access_token, deadline)
    else:
        with ThreadPoolExecutor(max_workers=senders, thread_name_prefix="outbox") as pool:
            for result in [pool.submit(_drain_in_thread, access_token, deadline) for _ in range(senders)]:
                counts.update(result.result())
    if time.monotonic() >= deadline and outbox.has_claimable():
        kick(force=True)  # budget spent with work left: hand over to fresh pumps
    report: dict[str, Any] = dict(counts)
    report["seconds"] = round(time.monotonic() - started, 3)
    return report


def tick() -> dict[str, Any]:
    """Every minute: requeue items whose sender died and start pumps if anything is due."""
    reclaimed = outbox.reclaim_stale()
    if reclaimed:
        log.warning("outbox: %d abandoned item(s) put back in the queue", reclaimed)
    kicked = kick(force=True) if outbox.has_claimable() else 0
    return {"reclaimed": reclaimed, "pumps": kicked, "pending": outbox.pending_count()}


def every_second() -> int:
    """The cluster's ticker: start senders when something is due and no sender is alive (a
    cluster that just restarted sends at once instead of at the next minute's tick)."""
    if cache.get(PUMPING_KEY) is not None or cache.get(KICK_KEY) is not None or not outbox.has_claimable():
        return 0
    return kick()


def purge_rate_windows() -> int:
    """Hourly: forget the shared rate-limit windows that ended long ago."""
    return ratelimit.purge_old_windows()
