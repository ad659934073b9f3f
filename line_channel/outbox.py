"""The outbox: every message Kairan sends is an ``OutboxItem`` first, then one request to LINE.

Writing (``enqueue_*``) stores the item with its retry key and, once the transaction commits,
wakes the Django-Q senders (``line_channel.tasks_outbox``). Sending is claim → call → record:

- **claim**: one item per short transaction, a single conditional ``UPDATE … RETURNING`` (state
  still queued and due, or ``sending`` with a claim older than ``KAIRAN_OUTBOX_CLAIM_TIMEOUT``):
  a row back means the item is ours. On SQLite the statement holds the database's write lock
  from its start; on PostgreSQL its subquery picks the item ``FOR UPDATE SKIP LOCKED``, so
  claimers skip each other's rows. Each claim stores a fresh claim token and counts an attempt.
- **call**: through the gateway, with no database lock held. An item whose sender died (killed
  worker, lost machine) is claimed again after the timeout and sent with the **same** retry key:
  if LINE had accepted the first request it answers 409 and delivers nothing twice.
- **record**: only while our claim token still holds (a taken-over claim records nothing):
  sent (200, or 409 = accepted earlier), queued again with backoff (429, 5xx, no answer, a
  local rate-limit window that is full for a long time), or failed for good (any other 4xx, or
  ``KAIRAN_OUTBOX_MAX_ATTEMPTS`` attempts).

A chatbot reply uses the reply token while it is fresh (``KAIRAN_LINE_REPLY_WINDOW`` seconds) and
becomes a push with a new retry key when it is too old or LINE calls it invalid. Replies carry no
retry key, so a reply whose answer was lost is tried once more with its token: "invalid" then
means our first try used it (the token is ours alone), and the item counts as sent.
"""

from __future__ import annotations

import itertools
import logging
import random
import threading
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import cache
from typing import Any, cast

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Choices, Field, Min, Q
from django.utils import timezone

from line_channel.gateway import Gateway, LineApiError, Sent
from line_channel.models import OutboxItem
from line_channel.ratelimit import RateLimited

log = logging.getLogger(__name__)

Kind = OutboxItem.Kind
State = OutboxItem.State

MULTICAST_RECIPIENTS = 500  # LINE's limit per multicast request
MAX_MESSAGES = 5  # message objects per request
INSERT_BATCH = 100  # items per INSERT when a multicast is split
KEYED_INSERT_BATCH = 10  # items per commit of a keyed multicast on SQLite (senders are running)
MAX_BACKOFF_SECONDS = 3600.0
PENDING = (State.QUEUED, State.SENDING)

NOTE_REPLY_AS_PUSH = "応答トークンが使えない（期限切れ・無効）ため、プッシュメッセージで送信しました。"
NOTE_REPLY_USED = "前回の応答の結果が不明でしたが、応答トークンは使用済みでした（応答は届いています）。"
NOTE_ABANDONED = "送信中に処理が中断されたため、同じリトライキーで再送します。"


# --- enqueue -------------------------------------------------------------------------------------


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


def enqueue_reply(
    *,
    reply_token: str,
    user_id: str,
    messages: list[dict[str, Any]],
    purpose: str = "",
    received_at: datetime | None = None,
    notification_disabled: bool = False,
) -> OutboxItem:
    """Queue the answer to a user's event: a reply while the token is fresh, a push otherwise.

    ``received_at`` (when the event arrived) lets an event processed late go straight to push.
    """
    user_id = _checked_user_id(user_id)
    too_old = received_at is not None and timezone.now() - received_at > reply_window()
    item = OutboxItem.objects.create(
        kind=Kind.PUSH if too_old or not reply_token else Kind.REPLY,
        purpose=purpose,
        recipients=[user_id],
        messages=_checked_messages(messages),  # type: ignore[misc]  # a TextField to the stubs
        reply_token=reply_token or "",
        notification_disabled=notification_disabled,
    )
    _wake_senders_on_commit()
    return item


# --- claim ---------------------------------------------------------------------------------------


def _claim_timeout() -> timedelta:
    return timedelta(seconds=settings.KAIRAN_OUTBOX_CLAIM_TIMEOUT)


def _claimable(now: datetime) -> Q:
    """Queued and due, or left in ``sending`` by a claimer that has not finished in time."""
    return Q(state=State.QUEUED, next_attempt_at__lte=now) | Q(
        state=State.SENDING, claimed_at__lt=now - _claim_timeout()
    )


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


_SET_CLAIMED = "state = %s, claim_token = %s, claimed_at = %s, attempts = attempts + 1"
_DUE = "state = %s AND next_attempt_at <= %s"
_STALE = "state = %s AND claimed_at < %s"


@cache
def _claim_sql(vendor: str, which: str) -> str:
    """A claim as one conditional ``UPDATE … RETURNING`` the claimed row (SQLite 3.35+, PostgreSQL).

    ``which``: "pk" (that item, if claimable), "due" (the oldest queued item that is due) or
    "stale" (the oldest item whose claimer gave no sign within the claim timeout). For "due" and
    "stale" the id comes from a subquery of the same statement: SQLite takes its one write lock
    when the statement starts, so no other claimer can slip in between; on PostgreSQL the
    subquery locks the row ``FOR UPDATE SKIP LOCKED``, so concurrent claimers skip each other's
    rows instead of queueing. One statement per claim, never a failed race: measured several
    times cheaper than ORM ``update()`` + ``select`` with retries over candidate ids.
    """
    meta = OutboxItem._meta
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    columns = ", ".join(quote(str(field.column)) for field in meta.concrete_fields)
    skip_locked = " FOR UPDATE SKIP LOCKED" if vendor == "postgresql" else ""
    if which == "pk":
        where = f"id = %s AND (({_DUE}) OR ({_STALE}))"
    else:
        condition, order = (_DUE, "next_attempt_at, id") if which == "due" else (_STALE, "claimed_at, id")
        where = (
            f"id = (SELECT id FROM {table} WHERE {condition} ORDER BY {order} LIMIT 1{skip_locked}) "  # noqa: S608
            f"AND {condition}"
        )
    return f"UPDATE {table} SET {_SET_CLAIMED} WHERE {where} RETURNING {columns}"  # noqa: S608 - model names


def _field(name: str) -> Field[Any, Any]:
    return cast("Field[Any, Any]", OutboxItem._meta.get_field(name))


def _db_value(name: str, value: Any) -> Any:
    return _field(name).get_db_prep_value(value, connection)


def _take(which: str, pk: int | None = None) -> OutboxItem | None:
    while True:
        now = timezone.now()
        token, claimed_at = _db_value("claim_token", uuid.uuid4()), _db_value("claimed_at", now)
        due = [str(State.QUEUED), _db_value("next_attempt_at", now)]
        stale = [str(State.SENDING), _db_value("claimed_at", now - _claim_timeout())]
        params: list[Any] = [str(State.SENDING), token, claimed_at]
        if which == "pk":
            params += [pk, *due, *stale]
        else:
            params += (due * 2) if which == "due" else (stale * 2)
        with _writing():
            rows = list(OutboxItem.objects.raw(_claim_sql(connection.vendor, which), params))
        if not rows:
            return None
        item = rows[0]
        if item.attempts <= settings.KAIRAN_OUTBOX_MAX_ATTEMPTS:
            return item
        # Only abandoned items get here: each earlier sender died (or hung) while holding it.
        _record(
            item, state=State.FAILED, error=f"送信処理が {item.attempts - 1} 回中断されたため中止しました。"
        )
        if which == "pk":
            return None


def claim(pk: int) -> OutboxItem | None:
    """Claim item ``pk`` if it can be claimed now (conditional UPDATE: one row means it is ours)."""
    return _take("pk", pk)


def claim_next() -> OutboxItem | None:
    """Claim the next item to send: the oldest due one, else one whose claimer died; or None.

    Abandoned items wait until no item is due (a fan-out is not slowed by looking for them on
    every claim); ``tick`` also puts them back in the queue every minute.
    """
    return _take("due") or _take("stale")


def seconds_until_claimable() -> float | None:
    """How long until an item can be claimed (0: now), or None when nothing is pending."""
    now = timezone.now()
    moments = []
    due = OutboxItem.objects.filter(state=State.QUEUED).aggregate(at=Min("next_attempt_at"))["at"]
    if due is not None:
        moments.append(due)
    claimed = OutboxItem.objects.filter(state=State.SENDING).aggregate(at=Min("claimed_at"))["at"]
    if claimed is not None:
        moments.append(claimed + _claim_timeout())
    if not moments:
        return None
    return max(0.0, (min(moments) - now).total_seconds())


def has_claimable() -> bool:
    return OutboxItem.objects.filter(_claimable(timezone.now())).exists()


def reclaim_stale() -> int:
    """Put items whose claimer gave no sign within the claim timeout back in the queue."""
    now = timezone.now()
    return OutboxItem.objects.filter(state=State.SENDING, claimed_at__lt=now - _claim_timeout()).update(
        state=State.QUEUED, claim_token=None, next_attempt_at=now, error=NOTE_ABANDONED
    )


# --- send and record -------------------------------------------------------------------------------


def _record(item: OutboxItem, *, uncount_attempt: bool = False, **fields: Any) -> str:
    """Write the outcome if our claim still holds; return the new state ("" when the claim was lost).

    One UPDATE conditional on our claim token, written out like the claim (the hot path).
    """
    meta = OutboxItem._meta
    quote = connection.ops.quote_name
    fields["claim_token"] = None
    assignments, params = [], []
    for name, value in fields.items():
        field = _field(name)
        assignments.append(f"{quote(str(field.column))} = %s")
        params.append(field.get_db_prep_save(str(value) if isinstance(value, Choices) else value, connection))
    if uncount_attempt:
        assignments.append("attempts = attempts - 1")
    params += [item.pk, _db_value("claim_token", item.claim_token), str(State.SENDING)]
    with _writing(), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {quote(meta.db_table)} SET {', '.join(assignments)} "  # noqa: S608 - model names only
            "WHERE id = %s AND claim_token = %s AND state = %s",
            params,
        )
        updated = cursor.rowcount
    if not updated:
        log.info("outbox item %s: claim taken over, outcome not recorded", item.pk)
        return ""
    return str(fields.get("state", State.SENDING))


def _note(item: OutboxItem) -> str:
    return NOTE_REPLY_AS_PUSH if item.kind == Kind.PUSH and item.reply_token else ""


def _mark_sent(item: OutboxItem, sent: Sent) -> str:
    return _record(
        item,
        state=State.SENT,
        sent_at=timezone.now(),
        line_request_id=sent.request_id[:64],
        http_status=409 if sent.duplicate else 200,
        error=_note(item),
    )


def backoff_seconds(attempts: int) -> float:
    """Delay before the next attempt after ``attempts`` failed ones: doubling, with jitter."""
    base: float = settings.KAIRAN_OUTBOX_BACKOFF * 2 ** max(0, attempts - 1)
    return min(MAX_BACKOFF_SECONDS, base) * random.uniform(0.75, 1.25)  # noqa: S311 - jitter


def _attempt_failed(item: OutboxItem, error: LineApiError) -> str:
    outcome: dict[str, Any] = {
        "http_status": error.status or None,
        "line_request_id": error.request_id[:64],
        "error": str(error)[:2000],
    }
    if not error.retryable:
        return _record(item, state=State.FAILED, **outcome)
    if item.attempts >= settings.KAIRAN_OUTBOX_MAX_ATTEMPTS:
        outcome["error"] = f"{item.attempts} 回試行しても送信できませんでした。最後のエラー: {error}"[:2000]
        return _record(item, state=State.FAILED, **outcome)
    delay = timedelta(seconds=backoff_seconds(item.attempts))
    return _record(item, state=State.QUEUED, next_attempt_at=timezone.now() + delay, **outcome)


def _postpone(item: OutboxItem, limited: RateLimited) -> str:
    """Our shared rate-limit window is full for long: wait for it without counting an attempt."""
    return _record(
        item,
        state=State.QUEUED,
        uncount_attempt=True,
        next_attempt_at=timezone.now() + timedelta(seconds=limited.retry_after),
        error=(
            f"LINE の送信数の上限（{limited.endpoint}）に達したため、"
            f"{limited.retry_after:.0f} 秒後に送信します。"
        ),
    )


def _messages(item: OutboxItem) -> list[dict[str, Any]]:
    return cast(list[dict[str, Any]], item.messages)


def _send(item: OutboxItem, gateway: Gateway) -> Sent:
    key = str(item.retry_key)
    if item.kind == Kind.PUSH:
        return gateway.push(
            to=item.recipients[0],
            messages=_messages(item),
            retry_key=key,
            notification_disabled=item.notification_disabled,
            aggregation_unit=item.aggregation_unit,
        )
    if item.kind == Kind.MULTICAST:
        return gateway.multicast(
            to=list(item.recipients),
            messages=_messages(item),
            retry_key=key,
            notification_disabled=item.notification_disabled,
            aggregation_unit=item.aggregation_unit,
        )
    if item.kind == Kind.BROADCAST:
        return gateway.broadcast(
            messages=_messages(item), retry_key=key, notification_disabled=item.notification_disabled
        )
    raise ValueError(f"unknown outbox item kind {item.kind!r}")


def _is_invalid_reply_token(error: LineApiError) -> bool:
    return error.status == 400 and "reply token" in error.message.lower()


def _switch_to_push(item: OutboxItem) -> bool:
    """Turn a reply into a push with a new retry key, stored before the push is made."""
    key = uuid.uuid4()
    mine = OutboxItem.objects.filter(pk=item.pk, claim_token=item.claim_token, state=State.SENDING)
    with _writing():
        updated = mine.update(kind=Kind.PUSH, retry_key=key)
    if updated:
        item.kind, item.retry_key = Kind.PUSH, key
    return bool(updated)


def _send_reply(item: OutboxItem, gateway: Gateway, reply_gateway: Gateway) -> str:
    # An earlier claim may have used the token: its answer was lost (5xx, no answer, or the
    # sender died). A LINE 429 is refused before any work, so it does not count.
    maybe_used = item.attempts > 1 and item.http_status != 429
    fresh = timezone.now() - item.created_at <= reply_window()
    if fresh:
        try:
            return _mark_sent(
                item,
                reply_gateway.reply(
                    reply_token=item.reply_token,
                    messages=_messages(item),
                    notification_disabled=item.notification_disabled,
                ),
            )
        except LineApiError as error:
            if not _is_invalid_reply_token(error):
                raise
            if maybe_used:
                # Fresh by our clock, single-use and known only to us: our earlier try used it.
                return _record(
                    item, state=State.SENT, sent_at=timezone.now(), http_status=None, error=NOTE_REPLY_USED
                )
    elif maybe_used:
        log.warning("outbox item %s: reply outcome unknown and token too old; pushing", item.pk)
    if not _switch_to_push(item):
        return ""
    return _mark_sent(item, _send(item, gateway))


def send_claimed(item: OutboxItem, *, gateway: Gateway, reply_gateway: Gateway | None = None) -> str:
    """Send a claimed item and record the outcome; return its new state ("" if the claim was lost).

    ``reply_gateway`` should make a single attempt per call, so the outbox knows whether a reply
    token may have been used (its default is ``gateway``).
    """
    try:
        if item.kind == Kind.REPLY:
            return _send_reply(item, gateway, reply_gateway or gateway)
        return _mark_sent(item, _send(item, gateway))
    except RateLimited as limited:
        return _postpone(item, limited)
    except LineApiError as error:
        return _attempt_failed(item, error)
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        # The item itself is malformed (e.g. a message object the SDK refuses): never sendable.
        return _record(item, state=State.FAILED, error=f"送信内容が不正です: {exc}"[:2000])


def send_now(pk: int, *, gateway: Gateway, reply_gateway: Gateway | None = None) -> str:
    """Send item ``pk`` from this process now, unless a sender claimed it first (the claim keeps
    it exactly-once): how an answer to a resident goes out as soon as its event is processed,
    without waiting for a pump. Returns the new state, "" when someone else has the item."""
    item = claim(pk)
    if item is None:
        return ""
    return send_claimed(item, gateway=gateway, reply_gateway=reply_gateway)


def pending_count() -> int:
    return OutboxItem.objects.filter(state__in=PENDING).count()
