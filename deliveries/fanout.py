"""The fan-out of a delivery run: recipients → outbox items, exactly once, resumable.

``start(run_id)`` claims a due run (a conditional UPDATE: one row back means it is ours),
evaluates its segment at that moment, and materialises the recipients in chunks of ≤ 500 as
multicast outbox items whose retry keys are ``uuid5(run.key, chunk number)``. Each batch of
chunks is written in the same transaction as the run's cursor (the last resident or friend id
queued and the chunk count), so a worker killed at any point leaves either both or neither: the
run is claimed again after ``STALE_SECONDS`` without a heartbeat and continues after the cursor.
The outbox then sends each item once (its stored retry key makes LINE refuse a repeat).
``finish`` records the outcome once no item of the run is pending.
"""

from __future__ import annotations

import logging
import queue
import threading
import uuid
from collections.abc import Generator, Iterator
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, connections, transaction
from django.db.models import Count, Func, IntegerField, Q, Sum
from django.utils import timezone

from deliveries import audience
from deliveries.models import Category, DeliveryRun, Tester
from line_channel import outbox, tasks_outbox
from line_channel.gateway import Gateway, LineApiError
from line_channel.models import FollowChange, Follower, OutboxItem

log = logging.getLogger(__name__)

State = DeliveryRun.State
CHUNK = outbox.MULTICAST_RECIPIENTS
BATCH_CHUNKS = 20  # chunks per transaction (10,000 recipients)
Chunk = tuple[int, list[str]]  # the last resident (or friend) id of a chunk, and its LINE user ids
STALE_SECONDS = 60  # a materialising run without a heartbeat this long is taken over (each batch
# beats, and takes well under a second; the margin is for a database busy with other work)


class JSONArrayLength(Func):
    """The number of elements of a JSON array column (the recipients of an outbox item)."""

    function = "json_array_length"
    output_field = IntegerField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, function="jsonb_array_length", **extra)


# --- claim -------------------------------------------------------------------------------------------


def _claimable(now: Any) -> Q:
    from richmenus.emergency import deliveries_paused

    due = Q(state=State.SCHEDULED, scheduled_for__lte=now)
    if deliveries_paused():  # 災害モード: only 防災 deliveries and tests go out until the revert
        due &= Q(category=Category.DISASTER) | Q(kind=DeliveryRun.Kind.TEST)
    stale = Q(
        state=State.SENDING, materialised=False, heartbeat_at__lt=now - timedelta(seconds=STALE_SECONDS)
    )
    return due | stale


def claim(run_id: int) -> DeliveryRun | None:
    now = timezone.now()
    run = DeliveryRun.objects.filter(pk=run_id).first()
    if run is None:
        return None
    claimed = DeliveryRun.objects.filter(Q(pk=run_id), _claimable(now)).update(
        state=State.SENDING, heartbeat_at=now, started_at=run.started_at or now
    )
    if not claimed:
        return None
    run.refresh_from_db()
    return run


def due_run_ids(limit: int = 50) -> list[int]:
    return list(
        DeliveryRun.objects.filter(_claimable(timezone.now()))
        .order_by("scheduled_for")
        .values_list("pk", flat=True)[:limit]
    )


# --- recipients --------------------------------------------------------------------------------------


def _all_friends(after: int) -> Iterator[Chunk]:
    """Every following friend after id ``after``, in keyset pages (as ``audience.recipient_chunks``)."""
    last = after
    while True:
        rows = list(
            Follower.objects.filter(status=Follower.Status.FOLLOWING, pk__gt=last)
            .order_by("pk")
            .values_list("pk", "line_user_id")[: audience.RECIPIENT_PAGE]
        )
        for first in range(0, len(rows), CHUNK):
            part = rows[first : first + CHUNK]
            yield part[-1][0], [user_id for _pk, user_id in part]
        if len(rows) < audience.RECIPIENT_PAGE:
            return
        last = rows[-1][0]


def _recipient_chunks(run: DeliveryRun) -> Iterator[Chunk]:
    if run.segment is None:
        return _all_friends(run.cursor)
    return audience.recipient_chunks(run.segment, on=timezone.localdate(), after=run.cursor, chunk=CHUNK)


def _read_ahead(source: Iterator[Chunk], *, depth: int = 2 * BATCH_CHUNKS) -> Generator[Chunk, None, None]:
    """``source`` read by a thread of its own (with its own database connection), up to ``depth``
    chunks ahead, so the next page of recipients is read while this batch is written.

    Inside a transaction (tests wrapped in one) another connection could not see its rows: the
    source is read in line then.
    """
    if connection.in_atomic_block:
        yield from source
        return
    ahead: queue.Queue[Chunk | BaseException | None] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: Chunk | BaseException | None) -> bool:
        while not stop.is_set():
            try:
                ahead.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for chunk in source:
                if not put(chunk):
                    return
            put(None)
        except BaseException as error:  # noqa: BLE001 - handed to the writer, which raises it
            put(error)
        finally:
            connections.close_all()  # this thread's connections only

    reader = threading.Thread(target=read, name="delivery-read-ahead", daemon=True)
    reader.start()
    try:
        while (item := ahead.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        reader.join(timeout=30)


def _prepare(run: DeliveryRun) -> bool:
    """First start: check the messages with LINE and take the segment as it is now."""
    from deliveries.services import schedule_next_occurrence

    if run.kind != DeliveryRun.Kind.TEST and run.segment_text:
        return True  # resumed: prepared by the first start
    try:
        schedule_next_occurrence(run)
    except (ValidationError, ValueError) as error:
        # (e.g. a page sent as a card was unpublished): this occurrence still goes out; staff see why
        # the series stopped on its history page.
        run.error = f"次回の配信を予約できませんでした: {error}"[:2000]
        DeliveryRun.objects.filter(pk=run.pk).update(error=run.error)
    try:
        with Gateway.from_settings() as gateway:
            gateway.validate_messages(kind="multicast", messages=run.messages)
    except LineApiError as error:
        if not error.retryable:
            DeliveryRun.objects.filter(pk=run.pk).update(
                state=State.FAILED,
                finished_at=timezone.now(),
                error=f"LINE がメッセージを受け付けませんでした: {error}"[:2000],
            )
            return False
        log.warning("delivery run %s: LINE validation unavailable (%s); sending anyway", run.pk, error)
    if run.kind == DeliveryRun.Kind.TEST:
        return True
    delivery = run.delivery
    definition = delivery.segment_definition() if delivery is not None else run.segment
    if delivery is not None and delivery.live_revision is not None:
        live = delivery.live_revision.as_object()
        definition = live.segment_definition()
    run.segment = definition
    run.segment_text = audience.describe(definition)
    # (no count here: the recipients queued are the count, known when the last chunk is)
    DeliveryRun.objects.filter(pk=run.pk).update(segment=definition, segment_text=run.segment_text)
    return True


def _send_test(run: DeliveryRun) -> None:
    """A test: one push per tester, so the page can show who received it."""
    ids = Tester.line_user_ids()
    with transaction.atomic():
        if not OutboxItem.objects.filter(purpose=run.purpose).exists():
            for user_id in ids:
                outbox.enqueue_push(
                    to=user_id,
                    messages=run.messages,
                    purpose=run.purpose,
                    notification_disabled=run.notification_disabled,
                )
        DeliveryRun.objects.filter(pk=run.pk).update(
            materialised=True, chunks_total=len(ids), recipients_total=len(ids), target_count=len(ids)
        )


def start(run_id: int) -> str:
    """Claim run ``run_id`` if it is due (or abandoned) and queue its recipients; return what happened."""
    run = claim(run_id)
    if run is None:
        return "not claimable"
    if not _prepare(run):
        return "refused by LINE"
    if run.kind == DeliveryRun.Kind.TEST:
        _send_test(run)
        return "test queued"
    DeliveryRun.objects.filter(pk=run.pk, state=State.SENDING).update(heartbeat_at=timezone.now())
    tasks_outbox.kick()  # senders start while the first page is read, and take its chunks at once
    chunks = _read_ahead(_recipient_chunks(run))
    number = run.chunks_total
    while True:
        batch: list[tuple[uuid.UUID, list[str]]] = []
        last = run.cursor
        recipients = 0
        for chunk_last, ids in chunks:
            last = chunk_last
            batch.append((uuid.uuid5(run.key, str(number + len(batch))), ids))
            recipients += len(ids)
            if len(batch) == BATCH_CHUNKS:
                break
        if not batch:
            break
        with transaction.atomic():
            moved = DeliveryRun.objects.filter(pk=run.pk, state=State.SENDING, cursor=run.cursor).update(
                cursor=last,
                chunks_total=number + len(batch),
                recipients_total=run.recipients_total + recipients,
                heartbeat_at=timezone.now(),
            )
            if not moved:  # stopped, or another worker took the run over
                return "stopped"
            outbox.add_multicast_chunks(
                chunks=batch,
                messages=run.messages,
                purpose=run.purpose,
                notification_disabled=run.notification_disabled,
            )
        number += len(batch)
        run.cursor, run.chunks_total = last, number
        run.recipients_total += recipients
    DeliveryRun.objects.filter(pk=run.pk, state=State.SENDING).update(
        materialised=True, target_count=run.recipients_total, heartbeat_at=timezone.now()
    )
    return f"queued {run.recipients_total} recipients in {number} chunks"


# --- progress and outcome ------------------------------------------------------------------------------


def outbox_counts(run: DeliveryRun) -> dict[str, dict[str, int]]:
    """Items and recipients of the run per outbox state."""
    rows = (
        OutboxItem.objects.filter(purpose=run.purpose)
        .values("state")
        .annotate(items=Count("id"), recipients=Sum(JSONArrayLength("recipients")))
    )
    return {row["state"]: {"items": row["items"], "recipients": row["recipients"] or 0} for row in rows}


def progress(run: DeliveryRun) -> dict[str, Any]:
    counts = outbox_counts(run)

    def of(state: str, what: str) -> int:
        return counts.get(state, {}).get(what, 0)

    done_chunks = of(OutboxItem.State.SENT, "items") + of(OutboxItem.State.FAILED, "items")
    return {
        "state": run.state,
        "state_label": run.get_state_display(),
        "chunks_total": run.chunks_total,
        "chunks_done": done_chunks,
        "materialised": run.materialised,
        "target": run.target_count,
        "sent": of(OutboxItem.State.SENT, "recipients"),
        "failed": of(OutboxItem.State.FAILED, "recipients"),
        "pending": of(OutboxItem.State.QUEUED, "recipients") + of(OutboxItem.State.SENDING, "recipients"),
    }


def finishable_runs() -> list[int]:
    """Runs that may be over: sending with every chunk queued, or stopped and not yet closed."""
    return list(
        DeliveryRun.objects.filter(
            Q(state=State.SENDING, materialised=True) | Q(state=State.STOPPED, finished_at=None)
        ).values_list("pk", flat=True)[:100]
    )


def finish(run_id: int) -> bool:
    """Record the outcome of a run none of whose items is pending any more; False if not yet."""
    run = DeliveryRun.objects.filter(pk=run_id).first()
    if run is None or run.finished_at is not None:
        return False
    if run.state == State.SENDING and not run.materialised:
        return False  # still being queued (a repeated start task must not close it early)
    if OutboxItem.objects.filter(purpose=run.purpose, state__in=outbox.PENDING).exists():
        return False
    counts = outbox_counts(run)
    sent = counts.get(OutboxItem.State.SENT, {}).get("recipients", 0)
    failed = counts.get(OutboxItem.State.FAILED, {}).get("recipients", 0)
    last = (
        OutboxItem.objects.filter(purpose=run.purpose)
        .order_by("-sent_at")
        .values_list("sent_at", flat=True)
        .first()
    )
    if run.state == State.STOPPED:
        state = State.STOPPED
    elif failed and not sent:
        state = State.FAILED
    else:
        state = State.PARTIAL if failed else State.DONE
    with transaction.atomic():
        return bool(
            DeliveryRun.objects.filter(
                Q(state=State.SENDING, materialised=True) | Q(state=State.STOPPED),
                pk=run.pk,
                finished_at=None,
            ).update(state=state, sent_count=sent, failed_count=failed, finished_at=last or timezone.now())
        )


# --- the health signal: blocks within 24 hours ------------------------------------------------------------


def blocked_within_24h(run: DeliveryRun) -> int:
    """How many recipients blocked the account in the 24 hours after the run started."""
    if run.started_at is None:
        return 0
    window = Q(at__gte=run.started_at, at__lt=run.started_at + timedelta(hours=24))
    blocked = set(
        FollowChange.objects.filter(window, kind=FollowChange.Kind.UNFOLLOW).values_list(
            "follower__line_user_id", flat=True
        )
    )
    if not blocked:
        return 0
    found: set[str] = set()
    items = OutboxItem.objects.filter(purpose=run.purpose, state=OutboxItem.State.SENT)
    for recipients in items.values_list("recipients", flat=True).iterator(chunk_size=100):
        found.update(blocked.intersection(recipients))
    return len(found)


def record_blocks() -> int:
    """Store the 24-hour block count of runs whose 24 hours are over; returns how many."""
    cutoff = timezone.now() - timedelta(hours=24)
    runs = DeliveryRun.objects.filter(blocked_24h=None, started_at__lt=cutoff).exclude(
        kind=DeliveryRun.Kind.TEST
    )
    done = 0
    for run in runs.exclude(finished_at=None)[:200]:
        DeliveryRun.objects.filter(pk=run.pk).update(blocked_24h=blocked_within_24h(run))
        done += 1
    return done
