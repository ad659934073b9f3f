"""The shared rate limiter: never more than the limit in any stretch of its period, across threads."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import connections

from line_channel import ratelimit
from line_channel.models import RateWindow


def test_slices_keep_any_sliding_period_within_the_limit() -> None:
    limit = ratelimit.Limit(200, 1)
    assert limit.window_seconds == pytest.approx(0.1)
    # Eleven slices can overlap one second: their sum stays within the limit.
    assert limit.per_window * (ratelimit.SLICES + 1) <= 200
    hourly = ratelimit.Limit(60, 3600)
    assert (hourly.window_seconds, hourly.per_window) == (3600, 60)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_acquires_share_one_limit(settings: Any) -> None:
    settings.KAIRAN_LINE_RATE_LIMITS = {"multicast": (110, 1)}  # 10 per tenth of a second
    stamps: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        try:
            for _ in range(15):
                ratelimit.acquire("multicast")
                with lock:
                    stamps.append(time.time())
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(stamps) == 60
    assert max(RateWindow.objects.filter(endpoint="multicast").values_list("count", flat=True)) <= 10
    stamps.sort()
    # No sliding second holds more than the limit, and 60 requests needed about half a second.
    assert all(sum(1 for t in stamps if s <= t < s + 1) <= 110 for s in stamps)
    assert stamps[-1] - stamps[0] >= 0.45


@pytest.mark.django_db
def test_long_windows_are_not_waited_for(settings: Any) -> None:
    settings.KAIRAN_LINE_RATE_LIMITS = {"broadcast": (2, 3600)}
    ratelimit.acquire("broadcast")
    ratelimit.acquire("broadcast")
    with pytest.raises(ratelimit.RateLimited) as excinfo:
        ratelimit.acquire("broadcast")
    assert excinfo.value.retry_after > ratelimit.MAX_WAIT_SECONDS
    assert ratelimit.purge_old_windows(older_than_seconds=0) == 0  # the current window is kept
