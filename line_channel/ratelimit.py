"""Per-endpoint rate limits shared by every process that talks to LINE.

Several web processes and Django-Q clusters (on several machines) share one
database, so the count of requests per window lives there: each request
increments its window's row with a conditional UPDATE and waits for the next
window when the row is full. Long windows (per hour) are not waited for: the
caller gets ``RateLimited`` with the seconds to wait and reschedules.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F

from line_channel.models import RateWindow

# How long acquire() may sleep for a window to open; longer waits raise RateLimited.
MAX_WAIT_SECONDS = 5.0


# Short limits (per second) are counted in tenths of their period, each allowed its share
# minus a margin, so that no stretch of the full period anywhere holds more than the limit
# (LINE may count over any sliding second); long ones (per hour) in whole periods.
SLICES = 10


@dataclass(frozen=True)
class Limit:
    count: int
    seconds: int

    @property
    def window_seconds(self) -> float:
        return self.seconds / SLICES if self.seconds <= 60 else float(self.seconds)

    @property
    def per_window(self) -> int:
        if self.seconds > 60:
            return self.count
        # k slices can touch a stretch of SLICES + 1 slices: keep their sum within the limit.
        return max(1, self.count // (SLICES + 1))


class RateLimited(Exception):
    def __init__(self, endpoint: str, retry_after: float) -> None:
        super().__init__(f"rate limit of {endpoint} reached; retry in {retry_after:.1f} s")
        self.endpoint = endpoint
        self.retry_after = retry_after


def limit_for(endpoint: str) -> Limit | None:
    table: dict[str, tuple[int, int]] = settings.KAIRAN_LINE_RATE_LIMITS
    spec = table.get(endpoint) or table.get("default")
    return Limit(*spec) if spec else None


def _take(endpoint: str, window: int, limit: Limit) -> bool:
    if RateWindow.objects.filter(endpoint=endpoint, window=window, count__lt=limit.per_window).update(
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
    deadline = time.monotonic() + max_wait
    while True:
        now = time.time()
        length = limit.window_seconds
        window = int(now // length)
        if _take(endpoint, window, limit):
            return
        wait = (window + 1) * length - now
        if time.monotonic() + wait > deadline:
            raise RateLimited(endpoint, wait)
        time.sleep(max(wait, 0.001))


def purge_old_windows(*, older_than_seconds: int = 7200) -> int:
    """Delete rows of windows that ended long ago (a schedule runs this)."""
    deleted = 0
    now = time.time()
    for endpoint, (count, seconds) in settings.KAIRAN_LINE_RATE_LIMITS.items():
        length = Limit(count, seconds).window_seconds
        current = int(now // length)
        keep_from = current - max(1, int(older_than_seconds // length))
        deleted += RateWindow.objects.filter(endpoint=endpoint, window__lt=keep_from).delete()[0]
    return deleted
