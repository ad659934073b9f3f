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

import logging
import random
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import cache
from typing import Any, cast

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Choices, Field, Min, Q
from django.utils import timezone

from line_channel import ratelimit
from line_channel.gateway import Gateway, LineApiError, Sent
from line_channel.models import OutboxItem

# Queueing has a module of its own; callers use it through this one.
from line_channel.outbox_enqueue import INSERT_BATCH as INSERT_BATCH
from line_channel.outbox_enqueue import KEYED_INSERT_BATCH as KEYED_INSERT_BATCH
from line_channel.outbox_enqueue import MAX_MESSAGES as MAX_MESSAGES
from line_channel.outbox_enqueue import MULTICAST_RECIPIENTS as MULTICAST_RECIPIENTS
from line_channel.outbox_enqueue import _wake_senders_on_commit, _writing
from line_channel.outbox_enqueue import add_multicast_chunks as add_multicast_chunks
from line_channel.outbox_enqueue import cancel_queued as cancel_queued
from line_channel.outbox_enqueue import enqueue_broadcast as enqueue_broadcast
from line_channel.outbox_enqueue import enqueue_multicast as enqueue_multicast
from line_channel.outbox_enqueue import enqueue_push as enqueue_push
from line_channel.outbox_enqueue import enqueue_reply as enqueue_reply
from line_channel.outbox_enqueue import reply_items as reply_items
from line_channel.outbox_enqueue import reply_window as reply_window
from line_channel.ratelimit import RateLimited

log = logging.getLogger(__name__)

Kind = OutboxItem.Kind
State = OutboxItem.State

MAX_BACKOFF_SECONDS = 3600.0
PENDING = (State.QUEUED, State.SENDING)

NOTE_REPLY_AS_PUSH = "応答トークンが使えない（期限切れ・無効）ため、プッシュメッセージで送信しました。"
NOTE_REPLY_USED = "前回の応答の結果が不明でしたが、応答トークンは使用済みでした（応答は届いています）。"
NOTE_ABANDONED = "送信中に処理が中断されたため、同じリトライキーで再送します。"


# --- claim ---------------------------------------------------------------------------------------


def _claim_timeout() -> timedelta:
    return timedelta(seconds=settings.KAIRAN_OUTBOX_CLAIM_TIMEOUT)


def _claimable(now: datetime) -> Q:
    """Queued and due, or left in ``sending`` by a claimer that has not finished in time."""
    return Q(state=State.QUEUED, next_attempt_at__lte=now) | Q(
        state=State.SENDING, claimed_at__lt=now - _claim_timeout()
    )


_SET_CLAIMED = "state = %s, claim_token = %s, claimed_at = %s, attempts = attempts + 1"
_DUE = "state = %s AND next_attempt_at <= %s"
_STALE = "state = %s AND claimed_at < %s"


@cache
def _claim_sql(vendor: str, which: str, count: int = 1) -> str:
    """A claim as one conditional ``UPDATE … RETURNING`` the claimed rows (SQLite 3.35+, PostgreSQL).

    ``which``: "pks" (those ``count`` items, the ones that are claimable), "due" (the oldest
    queued item that is due) or "stale" (the oldest item whose claimer gave no sign within the
    claim timeout). For "due" and "stale" the id comes from a subquery of the same statement:
    SQLite takes its one write lock when the statement starts, so no other claimer can slip in
    between; on PostgreSQL the subquery locks the row ``FOR UPDATE SKIP LOCKED``, so concurrent
    claimers skip each other's rows instead of queueing. One statement per claim, never a failed
    race: measured several times cheaper than ORM ``update()`` + ``select`` with retries over
    candidate ids.
    """
    meta = OutboxItem._meta
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    columns = ", ".join(quote(str(field.column)) for field in meta.concrete_fields)
    skip_locked = " FOR UPDATE SKIP LOCKED" if vendor == "postgresql" else ""
    if which == "pks":
        where = f"id IN ({', '.join(['%s'] * count)}) AND (({_DUE}) OR ({_STALE}))"
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


def _claim(which: str, pks: Sequence[int] = ()) -> tuple[list[OutboxItem], bool]:
    """Claim as ``_claim_sql`` says: (the claimed items that may be sent, whether any row was
    claimed). Items are claimed together under one claim token."""
    now = timezone.now()
    token, claimed_at = _db_value("claim_token", uuid.uuid4()), _db_value("claimed_at", now)
    due = [str(State.QUEUED), _db_value("next_attempt_at", now)]
    stale = [str(State.SENDING), _db_value("claimed_at", now - _claim_timeout())]
    params: list[Any] = [str(State.SENDING), token, claimed_at]
    if which == "pks":
        params += [*pks, *due, *stale]
    else:
        params += (due * 2) if which == "due" else (stale * 2)
    with _writing():
        rows = list(OutboxItem.objects.raw(_claim_sql(connection.vendor, which, len(pks)), params))
    sendable = []
    for item in rows:
        if item.attempts <= settings.KAIRAN_OUTBOX_MAX_ATTEMPTS:
            sendable.append(item)
            continue
        # Only abandoned items get here: each earlier sender died (or hung) while holding it.
        _record(
            item, state=State.FAILED, error=f"送信処理が {item.attempts - 1} 回中断されたため中止しました。"
        )
    return sendable, bool(rows)


def _take(which: str) -> OutboxItem | None:
    while True:
        items, claimed = _claim(which)
        if items or not claimed:
            return items[0] if items else None


def claim_all(pks: Sequence[int]) -> list[OutboxItem]:
    """Claim those of items ``pks`` that can be claimed now, in one statement, in the given order."""
    if not pks:
        return []
    items, _ = _claim("pks", list(dict.fromkeys(pks)))
    order = {pk: n for n, pk in enumerate(pks)}
    return sorted(items, key=lambda item: order[item.pk])


def claim(pk: int) -> OutboxItem | None:
    """Claim item ``pk`` if it can be claimed now (conditional UPDATE: one row means it is ours)."""
    items = claim_all([pk])
    return items[0] if items else None


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


_together = threading.local()


@contextmanager
def recorded_together() -> Iterator[None]:
    """Outcomes recorded inside are written at the end, in one transaction: one commit for a run
    of sends rather than one per item (PostgreSQL flushes its log at each commit). A process that
    dies before the end leaves its items claimed: they are taken over after the claim timeout like
    any abandoned item (a reply is then found used, a push answers 409)."""
    if getattr(_together, "pending", None) is not None:
        yield  # (already inside one)
        return
    pending: list[tuple[str, list[Any]]] = []
    _together.pending = pending
    try:
        yield
    finally:
        _together.pending = None
        if pending:
            with _writing(), transaction.atomic(), connection.cursor() as cursor:
                for sql, params in pending:
                    cursor.execute(sql, params)


def _record(item: OutboxItem, *, uncount_attempt: bool = False, **fields: Any) -> str:
    """Write the outcome if our claim still holds; return the new state ("" when the claim was lost).

    One UPDATE conditional on our claim token, written out like the claim (the hot path). Inside
    ``recorded_together`` it is written at the end, and the state is returned as if it held.
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
    sql = (
        f"UPDATE {quote(meta.db_table)} SET {', '.join(assignments)} "  # noqa: S608 - model names only
        "WHERE id = %s AND claim_token = %s AND state = %s"
    )
    state = str(fields.get("state", State.SENDING))
    pending = getattr(_together, "pending", None)
    if pending is not None:
        pending.append((sql, params))
        return state
    with _writing(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        updated = cursor.rowcount
    if not updated:
        log.info("outbox item %s: claim taken over, outcome not recorded", item.pk)
        return ""
    return state


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


def send_now(pks: Sequence[int], *, gateway: Gateway, reply_gateway: Gateway | None = None) -> list[str]:
    """Send items ``pks`` from this process now, one after another, except those a sender claimed
    first (the claim keeps each exactly-once): how answers to residents go out as soon as their
    events are processed, without waiting for a pump. One statement claims them, the replies'
    rate-limit slots are reserved together and the outcomes commit together. Returns the new
    states of the items this call sent."""
    items = claim_all(pks)
    replies = sum(item.kind == Kind.REPLY for item in items)
    with ratelimit.reserved("reply", replies), recorded_together():
        states = [send_claimed(item, gateway=gateway, reply_gateway=reply_gateway) for item in items]
    if State.QUEUED in states:  # (to be tried again later: by the senders)
        _wake_senders_on_commit()
    return states


def pending_count() -> int:
    return OutboxItem.objects.filter(state__in=PENDING).count()
