"""The fan-out reads the next page of recipients in a thread of its own while it writes a batch
(outside a transaction, as in the cluster): same chunks as reading in line, errors reach the
writer, and a writer that stops early leaves no reader behind."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from django.db import connection
from django.utils import timezone

from deliveries import fanout
from line_channel.models import Follower

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def friends(n: int) -> None:
    now = timezone.now()
    Follower.objects.bulk_create(
        Follower(
            line_user_id=f"U{i:032x}",
            line_user_hash=f"h{i}",
            status=Follower.Status.BLOCKED if i % 7 == 0 else Follower.Status.FOLLOWING,
            first_followed_at=now,
            followed_at=now,
        )
        for i in range(1, n + 1)
    )


def readers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "delivery-read-ahead"]


def test_read_ahead_gives_the_same_chunks_as_reading_in_line() -> None:
    friends(1500)
    assert not connection.in_atomic_block
    ahead = list(fanout._read_ahead(fanout._all_friends(0), depth=2))
    assert ahead == list(fanout._all_friends(0))
    assert sum(len(ids) for _last, ids in ahead) == 1500 - 1500 // 7
    assert not readers()


def test_an_error_while_reading_reaches_the_writer() -> None:
    def broken() -> Iterator[fanout.Chunk]:
        yield 1, ["U" + "0" * 32]
        raise RuntimeError("the database went away")

    chunks = fanout._read_ahead(broken())
    assert next(chunks) == (1, ["U" + "0" * 32])
    with pytest.raises(RuntimeError, match="went away"):
        next(chunks)
    assert not readers()


def test_a_writer_that_stops_early_leaves_no_reader() -> None:
    friends(3000)
    chunks = fanout._read_ahead(fanout._all_friends(0), depth=1)
    next(chunks)
    chunks.close()  # (the run was stopped: the writer returns)
    assert not readers()
