"""Processing stored webhook events: claims, order per user, retries and failures, idempotence
when run twice, two workers at once, and how the receiver wakes Django-Q."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connections
from django.utils import timezone
from django_q.models import OrmQ

from line_channel import events, tasks
from line_channel.events import HandlerContext, InboundEvent, ParsedEvent
from line_channel.models import FollowChange, Follower, WebhookEvent

TEST_TYPE = "kairanTest"
START = datetime(2026, 4, 1, 0, 0, tzinfo=UTC)
_ids = iter(range(10**6))


def make_event(
    user: str, *, at: datetime, event_type: str = TEST_TYPE, event_id: str | None = None, **extra: Any
) -> ParsedEvent:
    event_id = event_id or f"01KAIRAN{next(_ids):018d}"
    payload = {
        "type": event_type,
        "mode": "active",
        "timestamp": int(at.timestamp() * 1000),
        "source": {"type": "user", "userId": user},
        "webhookEventId": event_id,
        "deliveryContext": {"isRedelivery": False},
        **extra,
    }
    return events.parse_body(json.dumps({"destination": "U0", "events": [payload]}).encode())[0]


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """A handler for TEST_TYPE that records (user, event id) in the order it runs."""
    record: list[tuple[str, str]] = []
    lock = threading.Lock()

    def handler(event: InboundEvent, context: HandlerContext) -> None:
        with lock:
            record.append((event.user_id, event.event_id))

    monkeypatch.setitem(events._handlers, TEST_TYPE, [handler])
    return record


def install(monkeypatch: pytest.MonkeyPatch, handler: Callable[[InboundEvent, HandlerContext], None]) -> None:
    monkeypatch.setitem(events._handlers, TEST_TYPE, [handler])


# --- parsing ------------------------------------------------------------------------------------


def test_parse_body_reads_ids_users_times_and_redelivery() -> None:
    body = (
        b'{"destination":"U0","events":[{"type":"follow","mode":"active","timestamp":1775001600123,'
        b'"source":{"type":"user","userId":"U1"},"webhookEventId":"01J","deliveryContext":'
        b'{"isRedelivery":true},"follow":{"isUnblocked":false}}]}'
    )
    [event] = events.parse_body(body)
    assert (event.event_id, event.event_type, event.user_id) == ("01J", "follow", "U1")
    assert event.occurred_at == datetime(2026, 4, 1, 0, 0, 0, 123000, tzinfo=UTC)
    assert event.redelivered and event.payload["follow"] == {"isUnblocked": False}
    assert events.parse_body(b'{"destination":"U0","events":[]}') == []
    with pytest.raises(events.MalformedWebhook):
        events.parse_body(b'{"events":[{"type":"follow"}]}')


# --- order, claims, retries ------------------------------------------------------------------------


@pytest.mark.django_db
def test_one_users_events_run_in_event_time_order(seen: list[tuple[str, str]]) -> None:
    late = make_event("U1", at=START + timedelta(seconds=5))
    early = make_event("U1", at=START)
    other = make_event("U2", at=START + timedelta(seconds=1))
    events.store_events([late, other])
    events.store_events([early])  # arrives last, happened first
    result = events.process_pending()
    assert result.done == 3
    assert [e for u, e in seen if u == "U1"] == [early.event_id, late.event_id]
    assert set(WebhookEvent.objects.values_list("state", flat=True)) == {WebhookEvent.State.DONE}
    assert list(WebhookEvent.objects.values_list("attempts", flat=True)) == [1, 1, 1]


@pytest.mark.django_db
def test_a_user_claimed_by_another_worker_is_left_alone(seen: list[tuple[str, str]]) -> None:
    events.store_events([make_event("U1", at=START), make_event("U2", at=START)])
    first = events.claim(users=1)  # worker A holds U1 (or U2) and is still busy with it
    assert len(first) == 1
    busy_user = first[0].source_user_id
    events.store_events([make_event(busy_user, at=START + timedelta(seconds=1))])
    second = events.claim()  # worker B
    assert {e.source_user_id for e in second} == {"U1", "U2"} - {busy_user}
    assert events.claim() == []

    # Worker A dies: once the lease has passed, its user's events are claimed again, in order.
    WebhookEvent.objects.filter(pk=first[0].pk).update(claimed_at=timezone.now() - events.CLAIM_LEASE)
    taken_over = events.claim()
    assert [e.source_user_id for e in taken_over] == [busy_user, busy_user]
    assert taken_over[0].pk == first[0].pk and taken_over[0].attempts == 2


@pytest.mark.django_db
def test_a_failing_handler_is_retried_then_marked_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def flaky(event: InboundEvent, context: HandlerContext) -> None:
        calls.append(event.event_id)
        if event.payload.get("broken"):
            raise RuntimeError("住所の変換に失敗しました")

    install(monkeypatch, flaky)
    bad = make_event("U1", at=START, broken=True)
    after_bad = make_event("U1", at=START + timedelta(seconds=1))
    fine = make_event("U2", at=START)
    events.store_events([bad, after_bad, fine])

    first = events.process_pending()
    assert (first.done, first.retried, first.failed) == (1, 1, 0)
    stored = {e.event_id: e for e in WebhookEvent.objects.all()}
    assert stored[bad.event_id].state == WebhookEvent.State.PENDING
    assert "RuntimeError: 住所の変換に失敗しました" in stored[bad.event_id].error
    assert stored[bad.event_id].claimed_at is None and stored[bad.event_id].attempts == 1
    # The user's later event waits for the failing one (order), untried.
    assert stored[after_bad.event_id].state == WebhookEvent.State.PENDING
    assert stored[after_bad.event_id].attempts == 0 and after_bad.event_id not in calls

    events.process_pending()
    last = events.process_pending()
    assert last.failed == 1 and last.done == 1
    failed = WebhookEvent.objects.get(event_id=bad.event_id)
    assert failed.state == WebhookEvent.State.FAILED and failed.attempts == events.MAX_ATTEMPTS
    assert "住所の変換" in failed.error and failed.processed_at is not None
    assert WebhookEvent.objects.get(event_id=after_bad.event_id).state == WebhookEvent.State.DONE
    # A batch in which a handler fails runs twice: at once, then, rolled back, event by event in
    # savepoints (so that only the failing event's work is undone).
    assert calls.count(bad.event_id) == 2 * events.MAX_ATTEMPTS and calls.count(after_bad.event_id) == 1


@pytest.mark.django_db
def test_a_failing_handlers_replies_and_writes_are_undone_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """The claim is rolled back and run again event by event in savepoints: the good events' answers
    and writes commit, the failing event's are undone."""
    from line_channel.models import OutboxItem

    def answer(event: InboundEvent, context: HandlerContext) -> None:
        now = timezone.now()
        Follower.objects.create(
            line_user_id=event.user_id,
            status=Follower.Status.FOLLOWING,
            first_followed_at=now,
            followed_at=now,
        )
        context.reply(event, [{"type": "text", "text": "受け付けました"}])
        if event.payload.get("broken"):
            raise RuntimeError("failed after answering")

    install(monkeypatch, answer)
    bad = make_event("U1", at=START, broken=True, replyToken="token-1")
    good = make_event("U2", at=START, replyToken="token-2")
    events.store_events([bad, good])
    claimed = events.claim()
    result = events.Processed()
    assert events._process_claimed(claimed, HandlerContext(gateway_factory=_no_gateway), result) == {"U1"}
    assert (result.done, result.retried) == (1, 1)
    assert list(Follower.objects.values_list("line_user_id", flat=True)) == ["U2"]
    (item,) = OutboxItem.objects.all()
    assert item.purpose == "reply:" + good.event_id and item.reply_token == "token-2"
    assert WebhookEvent.objects.get(event_id=bad.event_id).state == WebhookEvent.State.PENDING


# --- idempotence ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_running_twice_and_rerunning_a_dead_workers_events_changes_nothing() -> None:
    follow = make_event("U7", at=START, event_type="follow", follow={"isUnblocked": False})
    unfollow = make_event("U7", at=START + timedelta(hours=1), event_type="unfollow")
    events.store_events([follow, unfollow])
    events.process_pending(context=HandlerContext(gateway_factory=_no_gateway))
    assert events.process_pending().total == 0
    snapshot = Follower.objects.values().get()
    assert snapshot["status"] == Follower.Status.BLOCKED
    assert FollowChange.objects.count() == 2

    # A worker that finished the handlers but died before marking the events: they run again.
    WebhookEvent.objects.update(
        state=WebhookEvent.State.PENDING, claimed_at=timezone.now() - events.CLAIM_LEASE - timedelta(1)
    )
    events.process_pending(context=HandlerContext(gateway_factory=_no_gateway))
    assert Follower.objects.values().get() == snapshot
    assert FollowChange.objects.count() == 2
    assert set(WebhookEvent.objects.values_list("state", flat=True)) == {WebhookEvent.State.DONE}


def _no_gateway() -> Any:
    raise AssertionError("the profile of a follower who blocked is not fetched")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_workers_at_once_process_each_event_exactly_once(seen: list[tuple[str, str]]) -> None:
    users = [f"U{n:032x}" for n in range(30)]
    stored = [make_event(user, at=START + timedelta(seconds=i)) for i in range(10) for user in users]
    for offset in range(0, len(stored), 50):
        events.store_events(stored[offset : offset + 50])
    original = events._process_user

    def slow_process_user(*args: Any, **kwargs: Any) -> bool:
        time.sleep(0.002)  # long enough for the other worker to want the same users
        return original(*args, **kwargs)

    events._process_user = slow_process_user
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def worker() -> None:
        try:
            barrier.wait()
            events.process_pending(max_seconds=60)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    try:
        threads = [threading.Thread(target=worker) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        events._process_user = original
    assert errors == []
    ids = [event_id for _, event_id in seen]
    assert len(ids) == len(stored) and set(ids) == {e.event_id for e in stored}
    for user in users:
        mine = [event_id for u, event_id in seen if u == user]
        assert mine == [e.event_id for e in stored if e.user_id == user]  # event-time order
    assert WebhookEvent.objects.exclude(state=WebhookEvent.State.DONE).count() == 0
    assert set(WebhookEvent.objects.values_list("attempts", flat=True)) == {1}


# --- waking Django-Q -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_at_most_one_task_is_enqueued_per_second_across_processes() -> None:
    tasks._last_slot = -1
    assert tasks.request_processing(now=1_000_000.1)
    assert not tasks.request_processing(now=1_000_000.5)  # this process, same second
    tasks._last_slot = -1  # another web process, same second: the shared cache says no
    assert not tasks.request_processing(now=1_000_000.9)
    assert tasks.request_processing(now=1_000_001.0)
    queued = [q.task for q in OrmQ.objects.order_by("id")]
    assert [q["func"] for q in queued] == [tasks.TASK, tasks.TASK]
    assert [q["kwargs"]["until"] for q in queued] == [1_000_001.25, 1_000_002.25]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_task_collects_events_until_its_second_is_over(seen: list[tuple[str, str]]) -> None:
    late = make_event("U1", at=START)

    def arrive_later() -> None:
        time.sleep(0.4)
        events.store_events([late])
        connections.close_all()

    arrival = threading.Thread(target=arrive_later)
    arrival.start()
    started = time.time()
    processed = tasks.process_webhook_events(until=started + 1.0)
    arrival.join()
    assert processed == 1 and seen == [("U1", late.event_id)]
    assert time.time() - started >= 1.0
    assert tasks.process_pending_webhook_events() == 0


@pytest.mark.django_db
def test_finished_events_are_forgotten_after_the_retention_period(settings: Any) -> None:
    settings.KAIRAN_LINE_EVENT_RETENTION_DAYS = 30
    now = timezone.now()
    old, recent = now - timedelta(days=31), now - timedelta(days=29)
    for user, at in (("U-old-done", old), ("U-old-pending", old), ("U-recent", recent)):
        events.store_events([make_event(user, at=at)], received_at=at)
    WebhookEvent.objects.exclude(source_user_id="U-old-pending").update(state=WebhookEvent.State.DONE)
    assert tasks.purge_old_webhook_events() == 1
    assert sorted(WebhookEvent.objects.values_list("source_user_id", flat=True)) == [
        "U-old-pending",
        "U-recent",
    ]
    assert tasks.purge_old_webhook_events() == 0  # idempotent
