"""Webhook events: parsing what LINE posts, storing each event once, and processing them.

The receiver (``line_channel.webhook``) only parses and stores; a Django-Q task
(``line_channel.tasks``) processes what is pending:

- ``parse_body`` turns a verified body into ``ParsedEvent``s or raises ``MalformedWebhook``.
- ``store_events`` inserts them keyed by ``webhookEventId`` (``INSERT … ON CONFLICT DO NOTHING``,
  race-safe on SQLite and PostgreSQL); an id seen before (LINE's redelivery, or a replay) bumps
  ``duplicates`` of the stored row and is never processed again.
- ``process_pending`` claims pending events user by user in short transactions, runs the
  handlers registered for each event type in event time order per user, and marks each event
  done, ignored (no handler: unknown or unused types) or failed (with the error and the number
  of attempts). A claim's handlers and marks commit in one transaction (each event in a
  savepoint); calls to LINE wait until it has committed (``HandlerContext.after_batch``), so no
  lock is held while LINE answers. A claimer that died leaves
  its claim to expire after ``CLAIM_LEASE``; the events are then claimed again.

Handlers: later features plug in with ``@handles("message")`` in a module named
``line_handlers`` of any installed app (found with Django's ``autodiscover_modules``, like
``wagtail_hooks``). A handler receives an ``InboundEvent`` and a ``HandlerContext`` (a shared
LINE gateway for the run). It must be idempotent: Django-Q may run a task twice, and an event
whose claimer died is processed again.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from django.db import DatabaseError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.module_loading import autodiscover_modules

from line_channel import followers
from line_channel.handling import HandlerContext as HandlerContext
from line_channel.handling import InboundEvent as InboundEvent
from line_channel.models import WebhookEvent

log = logging.getLogger(__name__)

# Longest processing a claimer may take before its events are claimed again.
CLAIM_LEASE = timedelta(minutes=5)
# Attempts before an event whose handlers keep failing is marked failed.
MAX_ATTEMPTS = 3
# Users whose pending events one claim takes at once: few, so that the first answers of a batch
# do not wait long for the last ones; while claims come back full (a backlog), each next claim
# takes twice as many, up to CLAIM_USERS_MAX (fewer commits and claims per event).
CLAIM_USERS = 10
CLAIM_USERS_MAX = 80
# PostgreSQL advisory lock key that serialises claiming (not processing) across workers.
CLAIM_LOCK_KEY = 0x4B41_4952  # "KAIR"

EVENT_ID_MAX = WebhookEvent._meta.get_field("event_id").max_length or 64
EVENT_TYPE_MAX = WebhookEvent._meta.get_field("event_type").max_length or 40
USER_ID_MAX = WebhookEvent._meta.get_field("source_user_id").max_length or 64


# --- parsing -----------------------------------------------------------------------------


class MalformedWebhook(ValueError):
    """The body is not JSON shaped like LINE's webhook request body."""


@dataclass(frozen=True)
class ParsedEvent:
    event_id: str
    event_type: str
    user_id: str
    occurred_at: datetime
    redelivered: bool
    payload: dict[str, Any]


def _parse_event(index: int, raw: Any) -> ParsedEvent:
    where = f"events[{index}]"
    if not isinstance(raw, dict):
        raise MalformedWebhook(f"{where} is not an object")
    event_id = raw.get("webhookEventId")
    if not isinstance(event_id, str) or not 0 < len(event_id) <= EVENT_ID_MAX:
        raise MalformedWebhook(f"{where}.webhookEventId is missing or too long")
    event_type = raw.get("type")
    if not isinstance(event_type, str) or not 0 < len(event_type) <= EVENT_TYPE_MAX:
        raise MalformedWebhook(f"{where}.type is missing or too long")
    stamp = raw.get("timestamp")
    if isinstance(stamp, bool) or not isinstance(stamp, int) or not 0 <= stamp < 10**15:
        raise MalformedWebhook(f"{where}.timestamp is not milliseconds since the epoch")
    source = raw.get("source", {})
    if not isinstance(source, dict):
        raise MalformedWebhook(f"{where}.source is not an object")
    user_id = source.get("userId", "")
    if not isinstance(user_id, str) or len(user_id) > USER_ID_MAX:
        raise MalformedWebhook(f"{where}.source.userId is not a user id")
    context = raw.get("deliveryContext", {})
    if not isinstance(context, dict):
        raise MalformedWebhook(f"{where}.deliveryContext is not an object")
    return ParsedEvent(
        event_id=event_id,
        event_type=event_type,
        user_id=user_id,
        occurred_at=datetime.fromtimestamp(stamp / 1000, tz=UTC),
        redelivered=context.get("isRedelivery") is True,
        payload=raw,
    )


def parse_body(body: bytes) -> list[ParsedEvent]:
    """The events of a webhook body (``{"destination": ..., "events": [...]}``); [] for LINE's verify."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedWebhook(f"not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise MalformedWebhook("the body is not a JSON object")
    destination = data.get("destination", "")
    if not isinstance(destination, str):
        raise MalformedWebhook("destination is not a string")
    raw_events = data.get("events")
    if not isinstance(raw_events, list):
        raise MalformedWebhook("events is not an array")
    return [_parse_event(index, raw) for index, raw in enumerate(raw_events)]


# --- storing --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stored:
    new: int
    duplicates: list[str]  # webhookEventIds stored before this request


# Columns written on arrival; the others are NULL (claimed_at, processed_at) until processing.
_INSERT_FIELDS = (
    "event_id",
    "event_type",
    "source_user_id",
    "payload",
    "occurred_at",
    "received_at",
    "redelivered",
    "duplicates",
    "state",
    "attempts",
    "error",
)
_INSERT_BATCH = 500


def _insert_new(rows: list[dict[str, Any]]) -> set[str]:
    """``INSERT … ON CONFLICT (event_id) DO NOTHING RETURNING event_id``: the ids that were new.

    What ``bulk_create(ignore_conflicts=True)`` sends, plus ``RETURNING`` (SQLite 3.35+,
    PostgreSQL), so one statement both stores the new events and tells which ids existed:
    exact even when two deliveries of one event race, with no read before or after. The
    values are adapted here rather than through model instances: this is the webhook's hot
    path, and strings, booleans and integers need no adapting.
    """
    meta = WebhookEvent._meta
    fields = [meta.get_field(name) for name in _INSERT_FIELDS]
    quote = connection.ops.quote_name
    adapt: dict[str, Callable[[Any], Any]] = {
        "payload": fields[_INSERT_FIELDS.index("payload")].get_prep_value,  # type: ignore[union-attr]
        "occurred_at": connection.ops.adapt_datetimefield_value,
        "received_at": connection.ops.adapt_datetimefield_value,
    }
    converters = [(name, adapt.get(name)) for name in _INSERT_FIELDS]
    columns = ", ".join(quote(str(field.column)) for field in fields)  # type: ignore[union-attr]
    row_sql = "(" + ", ".join(["%s"] * len(fields)) + ")"
    new: set[str] = set()
    with connection.cursor() as cursor:
        for offset in range(0, len(rows), _INSERT_BATCH):
            batch = rows[offset : offset + _INSERT_BATCH]
            params = [
                row[name] if convert is None else convert(row[name])
                for row in batch
                for name, convert in converters
            ]
            values = ", ".join([row_sql] * len(batch))
            cursor.execute(
                f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES {values} "  # noqa: S608 - names from the model
                f"ON CONFLICT ({quote('event_id')}) DO NOTHING RETURNING {quote('event_id')}",
                params,
            )
            new.update(row[0] for row in cursor.fetchall())
    return new


def store_events(events: Sequence[ParsedEvent], *, received_at: datetime | None = None) -> Stored:
    """Store each event once by its ``webhookEventId``; count the ones seen before.

    One statement in the usual case (nothing stored before); an id that was stored before gets
    its ``duplicates`` count raised (and ``redelivered`` set when LINE said so).
    """
    if not events:
        return Stored(new=0, duplicates=[])
    now = received_at or timezone.now()
    unique: dict[str, ParsedEvent] = {}
    for event in events:
        unique.setdefault(event.event_id, event)
    inserted = _insert_new(
        [
            {
                "event_id": event.event_id,
                "event_type": event.event_type,
                "source_user_id": event.user_id,
                "payload": event.payload,
                "occurred_at": event.occurred_at,
                "received_at": now,
                "redelivered": event.redelivered,
                "duplicates": 0,
                "state": WebhookEvent.State.PENDING.value,
                "attempts": 0,
                "error": "",
            }
            for event in unique.values()
        ]
    )
    duplicates = [event_id for event_id in unique if event_id not in inserted]
    if duplicates:
        redelivered = [event_id for event_id in duplicates if unique[event_id].redelivered]
        WebhookEvent.objects.filter(event_id__in=duplicates).update(duplicates=F("duplicates") + 1)
        if redelivered:
            WebhookEvent.objects.filter(event_id__in=redelivered).update(redelivered=True)
        log.info(
            "webhook: %d event(s) received before (%d marked as redelivery): %s",
            len(duplicates),
            len(redelivered),
            ", ".join(duplicates[:10]),
        )
    return Stored(new=len(inserted), duplicates=duplicates)


# --- handlers -----------------------------------------------------------------------------


Handler = Callable[[InboundEvent, HandlerContext], None]
H = TypeVar("H", bound=Handler)

_handlers: dict[str, list[Handler]] = {}
_discovered = False


def handles(*event_types: str) -> Callable[[H], H]:
    """Register a handler for LINE event types (``"follow"``, ``"message"``, …); run in import order."""

    def register(handler: H) -> H:
        for event_type in event_types:
            registered = _handlers.setdefault(event_type, [])
            if handler not in registered:
                registered.append(handler)
        return handler

    return register


def handlers_for(event_type: str) -> tuple[Handler, ...]:
    discover_handlers()
    return tuple(_handlers.get(event_type, ()))


def discover_handlers() -> None:
    """Import every installed app's ``line_handlers`` module once (they register with ``@handles``)."""
    global _discovered
    if not _discovered:
        autodiscover_modules("line_handlers")
        _discovered = True


# --- processing -----------------------------------------------------------------------------


@dataclass
class Processed:
    done: int = 0
    ignored: int = 0
    failed: int = 0
    retried: int = 0

    @property
    def total(self) -> int:
        return self.done + self.ignored + self.failed + self.retried

    def add(self, other: Processed) -> None:
        self.done += other.done
        self.ignored += other.ignored
        self.failed += other.failed
        self.retried += other.retried


def _claimable(now: datetime) -> Q:
    return Q(state=WebhookEvent.State.PENDING) & (
        Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - CLAIM_LEASE)
    )


def claim(*, users: int = CLAIM_USERS, skip_users: Iterable[str] = ()) -> list[WebhookEvent]:
    """Claim every pending event of up to ``users`` users in one short transaction.

    A user whose events another worker is processing is left alone, so one user's events
    are handled by one worker at a time, in order. Claiming is serialised (SQLite's
    IMMEDIATE transactions; a transaction-scoped advisory lock on PostgreSQL) and the rows
    are taken with a conditional UPDATE (``SKIP LOCKED`` on PostgreSQL), so two workers
    never claim the same event. The claim's time stamp is the claim's token.
    """
    now = timezone.now()
    skip = list(skip_users)
    pending = WebhookEvent.objects.filter(_claimable(now)).exclude(source_user_id__in=skip)
    if not pending.exists():  # a plain read first: no write lock while idle
        return []
    postgres = connection.vendor == "postgresql"
    with transaction.atomic():
        if postgres:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CLAIM_LOCK_KEY])
        chosen: list[str] = []
        for user_id in pending.order_by("id").values_list("source_user_id", flat=True)[: users * 20]:
            if user_id not in chosen:
                chosen.append(user_id)
                if len(chosen) == users:
                    break
        busy = set(
            WebhookEvent.objects.filter(
                state=WebhookEvent.State.PENDING,
                claimed_at__gte=now - CLAIM_LEASE,
                source_user_id__in=chosen,
            ).values_list("source_user_id", flat=True)
        )
        rows = pending.filter(source_user_id__in=[u for u in chosen if u not in busy])
        if postgres:
            rows = rows.select_for_update(skip_locked=True)
        ids = list(rows.values_list("pk", flat=True))
        WebhookEvent.objects.filter(_claimable(now), pk__in=ids).update(
            claimed_at=now, attempts=F("attempts") + 1
        )
    return list(WebhookEvent.objects.filter(pk__in=ids, claimed_at=now).order_by("occurred_at", "id"))


def _finish(event: WebhookEvent, **changes: Any) -> bool:
    updated = WebhookEvent.objects.filter(pk=event.pk, claimed_at=event.claimed_at).update(**changes)
    if not updated:
        log.warning("webhook event %s: claim expired before it was finished", event.event_id)
    return bool(updated)


def _release(event: WebhookEvent, *, error: str = "", tried: bool) -> None:
    changes: dict[str, Any] = {"claimed_at": None}
    if error:
        changes["error"] = error
    if not tried:
        changes["attempts"] = F("attempts") - 1
    _finish(event, **changes)


def _inbound(event: WebhookEvent) -> InboundEvent:
    return InboundEvent(
        pk=event.pk,
        event_id=event.event_id,
        type=event.event_type,
        user_id=event.source_user_id,
        occurred_at=event.occurred_at,
        redelivered=event.redelivered,
        payload=event.payload if isinstance(event.payload, dict) else {},
        attempts=event.attempts,
    )


class _HandlerFailed(Exception):
    """A handler failed in a batch run without savepoints: the batch is run again with them."""


def _process_user(
    events: list[WebhookEvent],
    context: HandlerContext,
    result: Processed,
    finished: dict[str, list[int]],
    *,
    careful: bool,
) -> bool:
    """Run one user's claimed events in order; the events that ended are added to ``finished`` by
    state. False when one must be retried later.

    Not ``careful``: a failing handler raises ``_HandlerFailed`` (the batch is rolled back).
    ``careful``: each event runs in a savepoint, so a failing handler's writes are undone alone.
    """
    for position, event in enumerate(events):
        handlers = handlers_for(event.event_type)
        if not handlers:
            finished.setdefault(WebhookEvent.State.IGNORED, []).append(event.pk)
            result.ignored += 1
            continue
        inbound = _inbound(event)
        try:
            if careful:
                with transaction.atomic():
                    for handler in handlers:
                        handler(inbound, context)
            else:
                for handler in handlers:
                    handler(inbound, context)
        except Exception as exc:
            if not careful:
                raise _HandlerFailed from exc
            context.drop_replies(inbound)
            error = f"{type(exc).__name__}: {exc}"[:2000]
            log.exception("webhook event %s (%s) failed", event.event_id, event.event_type)
            if event.attempts >= MAX_ATTEMPTS:
                _finish(event, state=WebhookEvent.State.FAILED, processed_at=timezone.now(), error=error)
                result.failed += 1
                continue
            # Later events of this user wait for this one, to keep their order.
            _release(event, error=error, tried=True)
            for later in events[position + 1 :]:
                _release(later, tried=False)
            result.retried += 1
            return False
        finished.setdefault(WebhookEvent.State.DONE, []).append(event.pk)
        result.done += 1
    return True


def _run_batch(
    by_user: dict[str, list[WebhookEvent]], context: HandlerContext, *, careful: bool
) -> tuple[Processed, set[str]]:
    """One claim's events in one transaction: their handlers' writes, their answers and their
    states commit together (one commit per claim, not several per event)."""
    result, retry_later = Processed(), set()
    claimed_at = next(iter(by_user.values()))[0].claimed_at
    with transaction.atomic():
        finished: dict[str, list[int]] = {}
        for user_id, events in by_user.items():
            if not _process_user(events, context, result, finished, careful=careful):
                retry_later.add(user_id)
        context.save_replies()
        now = timezone.now()
        for state, ids in finished.items():
            updated = WebhookEvent.objects.filter(pk__in=ids, claimed_at=claimed_at).update(
                state=state, processed_at=now, error=""
            )
            if updated < len(ids):
                log.warning(
                    "webhook events: %d claim(s) expired before they were finished", len(ids) - updated
                )
    return result, retry_later


def _process_claimed(claimed: list[WebhookEvent], context: HandlerContext, result: Processed) -> set[str]:
    """Process one claim's events; return the users whose events wait for a retry.

    First without savepoints (two round trips fewer per event on PostgreSQL); when a handler
    fails, that run is rolled back and the batch runs again event by event in savepoints, so
    only the failing event is retried. Should the transaction itself fail, the claim is given
    up, so the events are claimed again at once rather than after ``CLAIM_LEASE``.
    """
    by_user: dict[str, list[WebhookEvent]] = {}
    for event in claimed:
        by_user.setdefault(event.source_user_id, []).append(event)
    try:
        try:
            done, retry_later = _run_batch(by_user, context, careful=False)
        except _HandlerFailed:
            context.discard_batch()
            done, retry_later = _run_batch(by_user, context, careful=True)
    except Exception:
        context.discard_batch()
        try:
            WebhookEvent.objects.filter(
                pk__in=[event.pk for event in claimed], claimed_at=claimed[0].claimed_at
            ).update(claimed_at=None)
        except DatabaseError:
            log.exception("webhook events: a failed claim could not be given up; it expires by itself")
        raise
    result.add(done)
    return retry_later


def process_pending(*, max_seconds: float = 50.0, context: HandlerContext | None = None) -> Processed:
    """Claim and process pending events until none are left (or ``max_seconds`` passed).

    Safe to run in several workers at once and to run twice. Events released for a retry
    are left for a later run (the receiver's next task or the every-minute schedule).
    """
    deadline = time.monotonic() + max_seconds
    own_context = context is None
    context = context or HandlerContext()
    result = Processed()
    retry_later: set[str] = set()
    users = CLAIM_USERS
    try:
        while time.monotonic() < deadline:
            claimed = claim(users=users, skip_users=retry_later)
            if not claimed:
                break
            full = len({event.source_user_id for event in claimed}) >= users
            users = min(users * 2, CLAIM_USERS_MAX) if full else CLAIM_USERS
            retry_later |= _process_claimed(claimed, context, result)
            context.run_deferred()
    finally:
        if own_context:
            context.close()
    if result.total:
        log.info(
            "webhook events: %d done, %d ignored, %d failed, %d to retry",
            result.done,
            result.ignored,
            result.failed,
            result.retried,
        )
    return result


def pending_count() -> int:
    return WebhookEvent.objects.filter(state=WebhookEvent.State.PENDING).count()


PURGE_BATCH = 1000


def purge_old_events(*, days: int, now: datetime | None = None) -> int:
    """Delete events received more than ``days`` ago that are finished (done, ignored, failed).

    Their payload holds what residents wrote (personal data): it is kept only as long as it
    helps to trace a problem. Pending events are never deleted. Batches keep each delete short.
    """
    cutoff = (now or timezone.now()) - timedelta(days=days)
    finished = WebhookEvent.objects.filter(received_at__lt=cutoff).exclude(state=WebhookEvent.State.PENDING)
    deleted = 0
    while ids := list(finished.values_list("pk", flat=True)[:PURGE_BATCH]):
        deleted += WebhookEvent.objects.filter(pk__in=ids).delete()[0]
    return deleted


# --- built-in handlers: friendship ------------------------------------------------------------


@handles("follow")
def on_follow(event: InboundEvent, context: HandlerContext) -> None:
    """友だち追加 (new, again after deleting, or ``follow.isUnblocked`` after a block); then the profile."""
    if not event.user_id:
        return
    follower = followers.record_follow(
        line_user_id=event.user_id,
        at=event.occurred_at,
        event_id=event.event_id,
        unblocked=event.section("follow").get("isUnblocked") is True,
    )
    if follower.profile_fetched_at is None:
        # After the batch: a block that follows in the same batch makes the call unnecessary.
        context.after_batch(
            f"profile:{follower.pk}",
            lambda: followers.fetch_profile_if_needed(follower_id=follower.pk, gateway=context.gateway),
        )


@handles("unfollow")
def on_unfollow(event: InboundEvent, context: HandlerContext) -> None:
    """ブロック or deletion of the account (LINE does not say which)."""
    if event.user_id:
        followers.record_unfollow(line_user_id=event.user_id, at=event.occurred_at, event_id=event.event_id)
