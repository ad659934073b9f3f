"""Writing to the outbox (``line_channel.outbox``): every message Kairan sends is queued here as an
``OutboxItem`` with its retry key, and the senders are woken once the transaction commits."""

from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from line_channel.models import OutboxItem

Kind = OutboxItem.Kind
State = OutboxItem.State

MULTICAST_RECIPIENTS = 500  # LINE's limit per multicast request
MAX_MESSAGES = 5  # message objects per request
INSERT_BATCH = 100  # items per INSERT when a multicast is split
KEYED_INSERT_BATCH = 10  # items per commit of a keyed multicast on SQLite (senders are running)


_sqlite_writes = threading.Lock()


@contextmanager
def _writing() -> Iterator[None]:
    """On SQLite, let one sender thread of this process write at a time.

    SQLite has one write lock per database, and a connection that finds it taken sleeps in
    steps of 1, 2, 5, 10 … ms: threads of one process queueing on a mutex instead lose far
    less time (measured: 4 threads were slower than 1 without this). PostgreSQL needs nothing.
    """
    if connection.vendor != "sqlite":
        yield
        return
    with _sqlite_writes:
        yield


def _checked_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not isinstance(messages, list) or not 1 <= len(messages) <= MAX_MESSAGES:
        raise ValueError(f"messages must be a list of 1 to {MAX_MESSAGES} message objects")
    if not all(isinstance(message, dict) and message.get("type") for message in messages):
        raise ValueError("every message must be a message object with a type")
    return messages


def _checked_user_id(user_id: str) -> str:
    if not isinstance(user_id, str) or not user_id.strip():
        raise ValueError("a recipient must be a LINE user id")
    return user_id.strip()


def _checked_user_ids(user_ids: list[str]) -> list[str]:
    """The same check for a whole chunk, at C speed (a million ids take milliseconds)."""
    try:
        if all(map(str.__len__, user_ids)):
            return user_ids
    except TypeError:
        pass
    raise ValueError("every recipient must be a LINE user id")


def _wake_senders_on_commit() -> None:
    from line_channel.tasks_outbox import kick

    transaction.on_commit(kick, robust=True)


def enqueue_push(
    *,
    to: str,
    messages: list[dict[str, Any]],
    purpose: str = "",
    notification_disabled: bool = False,
    aggregation_unit: str = "",
) -> OutboxItem:
    """Queue a push message to one user."""
    item = OutboxItem.objects.create(
        kind=Kind.PUSH,
        purpose=purpose,
        recipients=[_checked_user_id(to)],
        messages=_checked_messages(messages),  # type: ignore[misc]  # a TextField to the stubs
        notification_disabled=notification_disabled,
        aggregation_unit=aggregation_unit,
    )
    _wake_senders_on_commit()
    return item


def _chunks(user_ids: Iterable[str], size: int) -> Iterator[list[str]]:
    iterator = iter(user_ids)
    while chunk := list(itertools.islice(iterator, size)):
        yield _checked_user_ids(chunk)


def _batches(items: Iterable[OutboxItem], size: int) -> Iterator[list[OutboxItem]]:
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def _rows_per_insert() -> int | None:
    # Django 5.2 inserts many rows on PostgreSQL through UNNEST of arrays, which psycopg quotes
    # client-side value by value: for 500-id JSON lists, one row per INSERT takes half the CPU.
    return 1 if connection.vendor == "postgresql" else None


def enqueue_multicast(
    *,
    recipients: Iterable[str],
    messages: list[dict[str, Any]],
    purpose: str = "",
    notification_disabled: bool = False,
    aggregation_unit: str = "",
    key: uuid.UUID | None = None,
) -> list[int]:
    """Queue one multicast item per 500 recipients; return the items' ids.

    ``recipients`` is read as a stream (a generator or ``queryset.values_list(...).iterator()``),
    so a fan-out to a million users never holds them all; it should not repeat a user id.

    Without ``key`` the items are written in one transaction: all of them or none. With ``key``
    (say, the id of the delivery being sent) chunk *n* gets the retry key ``uuid5(key, n)`` and
    the items are committed in small batches while they are written, so the senders start at
    once; calling again with the same key and the recipients in the same order (after the caller
    died part-way) adds only the missing chunks, and LINE would refuse a repeated one anyway.
    """
    messages = _checked_messages(messages)

    def items() -> Iterator[OutboxItem]:
        for number, chunk in enumerate(_chunks(recipients, MULTICAST_RECIPIENTS)):
            item = OutboxItem(
                kind=Kind.MULTICAST,
                purpose=purpose,
                recipients=chunk,
                messages=messages,  # type: ignore[misc]  # a TextField to the stubs
                notification_disabled=notification_disabled,
                aggregation_unit=aggregation_unit,
            )
            if key is not None:
                item.retry_key = uuid.uuid5(key, str(number))
            yield item

    ids: list[int] = []
    if key is None:
        with transaction.atomic():
            for batch in _batches(items(), INSERT_BATCH):
                ids += [
                    item.pk for item in OutboxItem.objects.bulk_create(batch, batch_size=_rows_per_insert())
                ]
        if ids:
            _wake_senders_on_commit()
        return ids
    # Small commits on SQLite: its one write lock is held while a batch is written.
    size = KEYED_INSERT_BATCH if connection.vendor == "sqlite" else INSERT_BATCH
    for batch in _batches(items(), size):
        with transaction.atomic():
            OutboxItem.objects.bulk_create(batch, batch_size=_rows_per_insert(), ignore_conflicts=True)
        keys = [item.retry_key for item in batch]
        ids += OutboxItem.objects.filter(retry_key__in=keys).order_by("pk").values_list("pk", flat=True)
        _wake_senders_on_commit()
    return ids


def add_multicast_chunks(
    *,
    chunks: list[tuple[uuid.UUID, list[str]]],
    messages: list[dict[str, Any]],
    purpose: str,
    notification_disabled: bool = False,
) -> int:
    """Queue one multicast item per ``(retry key, recipients)`` chunk, in the caller's transaction.

    For a fan-out that records its own progress in the same transaction (a delivery's cursor),
    so that a chunk is queued exactly when the progress says so. A key queued already is
    skipped. Returns how many chunks were given.
    """
    messages = _checked_messages(messages)
    items = [
        OutboxItem(
            kind=Kind.MULTICAST,
            purpose=purpose,
            recipients=_checked_user_ids(recipients[:MULTICAST_RECIPIENTS]) if recipients else [],
            messages=messages,  # type: ignore[misc]  # a TextField to the stubs
            notification_disabled=notification_disabled,
            retry_key=key,
        )
        for key, recipients in chunks
        if recipients
    ]
    if any(len(recipients) > MULTICAST_RECIPIENTS for _key, recipients in chunks):
        raise ValueError(f"a multicast chunk holds at most {MULTICAST_RECIPIENTS} recipients")
    OutboxItem.objects.bulk_create(items, batch_size=_rows_per_insert(), ignore_conflicts=True)
    if items:
        _wake_senders_on_commit()
    return len(items)


def cancel_queued(*, purpose: str, reason: str) -> int:
    """Fail the items of ``purpose`` that no sender has claimed yet (a stopped delivery)."""
    with _writing():
        return OutboxItem.objects.filter(purpose=purpose, state=State.QUEUED).update(
            state=State.FAILED, error=reason, claim_token=None
        )


def enqueue_broadcast(
    *, messages: list[dict[str, Any]], purpose: str = "", notification_disabled: bool = False
) -> OutboxItem:
    """Queue a broadcast to every friend of the account."""
    item = OutboxItem.objects.create(
        kind=Kind.BROADCAST,
        purpose=purpose,
        messages=_checked_messages(messages),  # type: ignore[misc]  # a TextField to the stubs
        notification_disabled=notification_disabled,
    )
    _wake_senders_on_commit()
    return item


def reply_window() -> timedelta:
    return timedelta(seconds=settings.KAIRAN_LINE_REPLY_WINDOW)


def _reply_kind(reply_token: str, received_at: datetime | None) -> OutboxItem.Kind:
    too_old = received_at is not None and timezone.now() - received_at > reply_window()
    return Kind.PUSH if too_old or not reply_token else Kind.REPLY


def enqueue_reply(
    *,
    reply_token: str,
    user_id: str,
    messages: list[dict[str, Any]],
    purpose: str = "",
    received_at: datetime | None = None,
) -> OutboxItem:
    """Queue the answer to a user's event (≤ 5 messages): a reply while the token is fresh, a push
    otherwise. Event handlers answer through ``HandlerContext.reply``, which uses ``reply_items``.

    ``received_at`` (when the event arrived) lets an event processed late go straight to push.
    """
    (item,) = reply_items(
        reply_token=reply_token,
        user_id=user_id,
        messages=_checked_messages(messages),
        purpose=purpose,
        received_at=received_at,
    )
    item.save()
    _wake_senders_on_commit()
    return item


def reply_items(
    *,
    reply_token: str,
    user_id: str,
    messages: list[dict[str, Any]],
    purpose: str,
    received_at: datetime | None = None,
) -> list[OutboxItem]:
    """The items (not saved) that answer an event with any number of messages: the first five
    as its reply, the rest as pushes of five (purposes ``purpose:2``, …). Only the last message
    may carry quick reply buttons (LINE shows them under the last message received), so the last
    ``quickReply`` given moves there."""
    user_id = _checked_user_id(user_id)
    messages = [dict(message) for message in messages]
    quick = [message.pop("quickReply") for message in messages if "quickReply" in message]
    if quick and messages:
        messages[-1]["quickReply"] = quick[-1]
    items = []
    for n, start in enumerate(range(0, len(messages), MAX_MESSAGES), start=1):
        first = n == 1
        items.append(
            OutboxItem(  # type: ignore[misc]  # a TextField to the stubs
                kind=_reply_kind(reply_token, received_at) if first else Kind.PUSH,
                purpose=purpose if first else f"{purpose}:{n}",
                recipients=[user_id],
                messages=_checked_messages(messages[start : start + MAX_MESSAGES]),
                reply_token=reply_token if first else "",
            )
        )
    return items
