"""The shared rate limiter: never more than the limit in any stretch of its period, across threads."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import connections

from line_channel import ratelimit
from line_channel.models import RateSlot, RateWindow


def test_paced_requests_keep_any_sliding_period_within_the_limit() -> None:
    limit = ratelimit.Limit(200, 1)
    assert limit.paced
    # Any second holds at most 1 / interval + 1 requests: within the limit, with the margin.
    assert 1 / limit.interval + 1 <= 200
    assert 1 / limit.interval >= 200 * (1 - ratelimit.PACE_MARGIN) - 1
    assert not ratelimit.Limit(60, 3600).paced


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_acquires_share_one_pace(settings: Any) -> None:
    settings.KAIRAN_LINE_RATE_LIMITS = {"multicast": (40, 1)}
    stamps: list[float] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        try:
            for _ in range(15):
                ratelimit.acquire("multicast")
                with lock:
                    stamps.append(time.time())
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(stamps) == 60
    assert RateSlot.objects.get(endpoint="multicast").next_at > stamps[-1] - 0.1
    stamps.sort()
    # No sliding second holds more than the limit, and 60 requests at ~37/s need 1.5 s or more.
    assert all(sum(1 for t in stamps if s <= t < s + 1) <= 40 for s in stamps)
    assert stamps[-1] - stamps[0] >= 59 * ratelimit.Limit(40, 1).interval - 0.05


@pytest.mark.django_db
def test_a_slot_too_far_away_is_not_waited_for(settings: Any) -> None:
    settings.KAIRAN_LINE_RATE_LIMITS = {"default": (2, 1)}
    started = time.monotonic()
    ratelimit.acquire("push", max_wait=0.5)  # the first slot: now
    with pytest.raises(ratelimit.RateLimited) as excinfo:
        for _ in range(3):
            ratelimit.acquire("push", max_wait=0.5)  # slots are about a second apart
    assert 0 < excinfo.value.retry_after <= 2.2
    assert time.monotonic() - started < 3


@pytest.mark.django_db
def test_long_windows_are_not_waited_for(settings: Any) -> None:
    settings.KAIRAN_LINE_RATE_LIMITS = {"broadcast": (2, 3600)}
    ratelimit.acquire("broadcast")
    ratelimit.acquire("broadcast")
    with pytest.raises(ratelimit.RateLimited) as excinfo:
        ratelimit.acquire("broadcast")
    assert excinfo.value.retry_after > ratelimit.MAX_WAIT_SECONDS
    assert RateWindow.objects.get(endpoint="broadcast").count == 2
    assert ratelimit.purge_old_windows(older_than_seconds=0) == 0  # the current window is kept


@pytest.mark.django_db
def test_slots_reserved_ahead_take_one_statement_per_block(
    settings: Any, django_assert_num_queries: Any
) -> None:
    """A worker about to send a batch of replies reserves their slots a block at a time."""
    settings.KAIRAN_LINE_RATE_LIMITS = {"default": (200, 1)}
    interval = ratelimit.Limit(200, 1).interval
    count = ratelimit.BLOCK + 2
    ratelimit.acquire("reply")  # (the endpoint's row exists from now on)
    started = time.time()
    with ratelimit.reserved("reply", count):
        with django_assert_num_queries(1):  # the first block
            for _ in range(ratelimit.BLOCK):
                ratelimit.acquire("reply")
        with django_assert_num_queries(1):  # the rest
            for _ in range(count - ratelimit.BLOCK):
                ratelimit.acquire("reply")
        # They went out at the pace (the first at once).
        assert time.time() - started >= (count - 1) * interval - 0.005
        with django_assert_num_queries(1):  # more than announced: reserved as usual
            ratelimit.acquire("reply")
    assert RateSlot.objects.get(endpoint="reply").next_at >= started + count * interval - 0.005


@pytest.mark.django_db
def test_a_reserved_slot_used_late_is_dropped(settings: Any, django_assert_num_queries: Any) -> None:
    """Late slots bunched together could exceed the limit over a sliding second."""
    settings.KAIRAN_LINE_RATE_LIMITS = {"default": (2000, 1)}
    ratelimit.acquire("reply")
    with ratelimit.reserved("reply", 3):
        ratelimit.acquire("reply")  # reserves the block of 3
        time.sleep(ratelimit.LATE_SECONDS + 0.03)
        with django_assert_num_queries(1):  # its other two slots are too old: a new one
            ratelimit.acquire("reply")
    with django_assert_num_queries(0), ratelimit.reserved("push", 1):  # one request: nothing ahead
        pass
