"""Per-endpoint rate limits shared by every process that talks to LINE.

Several web processes and Django-Q clusters (on several machines) share one database, so the
limiter's state lives there.

- **Short limits** (per second, e.g. multicast 200/s) are paced: one row per endpoint holds the
  time the next request may start, and each request reserves its slot with one conditional
  ``UPDATE … RETURNING`` (``next_at = max(next_at, now) + interval``), then sleeps until it.
  Requests are thus at least ``interval`` apart, so no sliding period anywhere holds more than
  the limit (LINE may count over any sliding second), at ``1 - PACE_MARGIN`` of the limit: the
  margin absorbs the jitter between our clock and the moment LINE counts the request.
- **Long limits** (per hour, e.g. broadcast 60/h) are counted per window, and a full window is
  not waited for: the caller gets ``RateLimited`` with the seconds to wait and reschedules.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F

from line_channel.models import RateSlot, RateWindow

# How long acquire() may wait for its slot; longer waits raise RateLimited.
MAX_WAIT_SECONDS = 5.0
# Short limits are paced at this fraction below the limit (about 10 requests a second of slack
# at LINE's 200/s for multicast, for network jitter).
PACE_MARGIN = 0.05
SHORT_LIMIT_SECONDS = 60


@dataclass(frozen=True)
class Limit:
    count: int
    seconds: int

    @property
    def paced(self) -> bool:
        return self.seconds <= SHORT_LIMIT_SECONDS

    @property
    def interval(self) -> float:
        """Seconds between two paced requests: any period of ``seconds`` holds at most
        ``seconds / interval + 1`` of them, which stays within ``count``."""
        return self.seconds / max(1.0, (self.count - 1) * (1 - PACE_MARGIN))


class RateLimited(Exception):
    def __init__(self, endpoint: str, retry_after: float) -> None:
        super().__init__(f"rate limit of {endpoint} reached; retry in {retry_after:.1f} s")
        self.endpoint = endpoint
        self.retry_after = retry_after


def limit_for(endpoint: str) -> Limit | None:
    table: dict[str, tuple[int, int]] = settings.KAIRAN_LINE_RATE_LIMITS
    spec = table.get(endpoint) or table.get("default")
    return Limit(*spec) if spec else None


# --- short limits: paced slots ------------------------------------------------------------------


def _reserve(endpoint: str, limit: Limit, now: float, max_wait: float, count: int = 1) -> float:
    """Reserve the next ``count`` slots, the first no later than ``now + max_wait``; return the
    first one's start time (the others follow at ``limit.interval``).

    Raises ``RateLimited`` when the next free slot is further away than that.
    """
    interval = limit.interval * count
    quote = connection.ops.quote_name
    greatest = "GREATEST" if connection.vendor == "postgresql" else "MAX"
    column = quote("next_at")
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {quote(RateSlot._meta.db_table)} SET {column} = {greatest}({column}, %s) + %s "  # noqa: S608 - names from the model
            f"WHERE {quote('endpoint')} = %s AND {column} <= %s RETURNING {column}",
            [now, interval, endpoint, now + max_wait],
        )
        row = cursor.fetchone()
    if row is not None:
        return float(row[0]) - interval
    next_at = RateSlot.objects.filter(endpoint=endpoint).values_list("next_at", flat=True).first()
    if next_at is not None:
        if next_at - now > max_wait:
            raise RateLimited(endpoint, next_at - now)
        return _reserve(endpoint, limit, now, max_wait, count)  # the row was created meanwhile
    try:
        with transaction.atomic():
            RateSlot.objects.create(endpoint=endpoint, next_at=now + interval)
        return now
    except IntegrityError:  # another process created it first
        return _reserve(endpoint, limit, now, max_wait, count)


# --- slots reserved ahead by one thread ---------------------------------------------------------

# Slots reserved in one statement: few, so that a thread slower than the pace (a request takes a
# few milliseconds, a slot half of one at 2,000/s) uses them before they are LATE_SECONDS old.
BLOCK = 8
# A slot used later than this after its time is dropped: late slots bunched together could exceed
# the limit over a sliding second (by at most BLOCK per thread, well within PACE_MARGIN).
LATE_SECONDS = 0.05


@dataclass
class _Ahead:
    limit: Limit
    max_wait: float
    remaining: int  # requests announced and not yet given a slot
    slots: list[float] = field(default_factory=list)  # reserved, latest first


_ahead = threading.local()


@contextmanager
def reserved(endpoint: str, count: int, *, max_wait: float = MAX_WAIT_SECONDS) -> Iterator[None]:
    """Announce ``count`` requests of ``endpoint`` that this thread is about to make one after
    another (e.g. the replies to a batch of events): ``acquire`` inside reserves their paced slots
    ``BLOCK`` at a time, in one statement each, rather than one statement per request."""
    limit = limit_for(endpoint)
    if limit is None or not limit.paced or count < 2:
        yield
        return
    ahead: dict[str, _Ahead] = getattr(_ahead, "by_endpoint", None) or {}
    _ahead.by_endpoint = ahead
    ahead[endpoint] = _Ahead(limit, max_wait, count)
    try:
        yield
    finally:
        ahead.pop(endpoint, None)


def _reserved_slot(endpoint: str, now: float) -> float | None:
    """The next slot reserved ahead for ``endpoint`` (reserving a block when none is left), or None
    outside ``reserved`` or once its requests have had theirs."""
    state = (getattr(_ahead, "by_endpoint", None) or {}).get(endpoint)
    if state is None:
        return None
    while state.slots:
        slot = state.slots.pop()
        if slot >= now - LATE_SECONDS:
            return slot
    if state.remaining <= 0:
        return None
    block = min(state.remaining, BLOCK)
    state.remaining -= block
    first = _reserve(endpoint, state.limit, now, state.max_wait, block)
    state.slots = [first + n * state.limit.interval for n in range(block)][::-1]
    return state.slots.pop()


# --- long limits: counted windows ----------------------------------------------------------------


def _take(endpoint: str, window: int, limit: Limit) -> bool:
    if RateWindow.objects.filter(endpoint=endpoint, window=window, count__lt=limit.count).update(
        count=F("count") + 1
    ):
        return True
    if RateWindow.objects.filter(endpoint=endpoint, window=window).exists():
        return False
    try:
        with transaction.atomic():
            RateWindow.objects.create(endpoint=endpoint, window=window, count=1)
        return True
    except IntegrityError:  # another process created it first
        return _take(endpoint, window, limit)


def acquire(endpoint: str, *, max_wait: float = MAX_WAIT_SECONDS) -> None:
    """Take one request of ``endpoint``'s allowance, waiting up to ``max_wait`` seconds."""
    limit = limit_for(endpoint)
    if limit is None:
        return
    now = time.time()
    if limit.paced:
        slot = _reserved_slot(endpoint, now)
        wait = (slot if slot is not None else _reserve(endpoint, limit, now, max_wait)) - time.time()
        if wait > 0:
            time.sleep(wait)
        return
    window = int(now // limit.seconds)
    if not _take(endpoint, window, limit):
        raise RateLimited(endpoint, (window + 1) * limit.seconds - now)


def purge_old_windows(*, older_than_seconds: int = 7200) -> int:
    """Delete rows of windows that ended long ago (a schedule runs this)."""
    deleted = 0
    now = time.time()
    for endpoint, (count, seconds) in settings.KAIRAN_LINE_RATE_LIMITS.items():
        if Limit(count, seconds).paced:  # paced now, or counted by an earlier version
            deleted += RateWindow.objects.filter(endpoint=endpoint).delete()[0]
            continue
        current = int(now // seconds)
        keep_from = current - max(1, int(older_than_seconds // seconds))
        deleted += RateWindow.objects.filter(endpoint=endpoint, window__lt=keep_from).delete()[0]
    return deleted
