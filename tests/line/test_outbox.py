"""The outbox against the emulator: enqueue, claim, send, reschedule, fail, reclaim, reply → push."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from django_q.models import OrmQ

from emulator.client import EmulatorControl
from line_channel import outbox, tasks_outbox
from line_channel.gateway import Gateway
from line_channel.models import OutboxItem

pytestmark = pytest.mark.django_db

TEXT = [{"type": "text", "text": "大船渡市からのお知らせです。"}]
State = OutboxItem.State
Kind = OutboxItem.Kind


def followers(emu: EmulatorControl, count: int) -> list[str]:
    ids: list[str] = []
    while len(ids) < count:
        ids += emu.create_followers(min(1000, count - len(ids)))
    return ids


def send_one() -> OutboxItem:
    """Claim the next item, send it once, and return it as stored afterwards."""
    item = outbox.claim_next()
    assert item is not None
    with Gateway.from_settings() as gateway, Gateway.from_settings(attempts=1) as reply_gateway:
        outbox.send_claimed(item, gateway=gateway, reply_gateway=reply_gateway)
    return OutboxItem.objects.get(pk=item.pk)


def reply_token(emu: EmulatorControl, user_id: str) -> str:
    event = emu.send_text(user_id, "ごみの日はいつですか")["events"][0]
    return str(event["replyToken"])


def test_multicast_is_split_into_items_of_500_and_each_is_sent_once(
    line_channel: Any, emu: EmulatorControl
) -> None:
    users = followers(emu, 1201)
    consumed: list[str] = []

    def stream() -> Iterator[str]:
        for user_id in users:
            consumed.append(user_id)
            yield user_id

    ids = outbox.enqueue_multicast(recipients=stream(), messages=TEXT, purpose="お知らせ")
    items = list(OutboxItem.objects.filter(pk__in=ids).order_by("pk"))
    assert [len(item.recipients) for item in items] == [500, 500, 201]
    assert [r for item in items for r in item.recipients] == users == consumed
    assert len({item.retry_key for item in items}) == 3
    assert {(item.kind, item.state, item.attempts) for item in items} == {(Kind.MULTICAST, State.QUEUED, 0)}
    with connection.cursor() as cursor:  # message content is encrypted at rest
        cursor.execute("SELECT messages FROM line_channel_outboxitem WHERE id = %s", [ids[0]])
        assert str(cursor.fetchone()[0]).startswith("aesgcm:")

    report = tasks_outbox.pump(threads=1, seconds=20)
    assert report["sent"] == 3
    per_user = emu.deliveries()["perUser"]
    assert all(per_user.get(user_id) == 1 for user_id in users) and len(per_user) == 1201
    for item in OutboxItem.objects.filter(pk__in=ids):
        assert (item.state, item.attempts, item.http_status) == (State.SENT, 1, 200)
        assert item.line_request_id and item.sent_at and not item.error and item.claim_token is None


def test_enqueue_wakes_the_senders_after_commit_at_most_once_a_second(
    line_channel: Any, emu: EmulatorControl, django_capture_on_commit_callbacks: Any
) -> None:
    user = followers(emu, 1)[0]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        outbox.enqueue_push(to=user, messages=TEXT)
        assert OrmQ.objects.count() == 0  # not before the commit
    assert len(callbacks) == 1
    pumps = tasks_outbox.pumps_per_kick()
    assert OrmQ.objects.count() == pumps
    with django_capture_on_commit_callbacks(execute=True):
        outbox.enqueue_push(to=user, messages=TEXT)
    assert OrmQ.objects.count() == pumps  # guarded: the running pumps will see it
    assert tasks_outbox.kick(force=True) == pumps
    assert OrmQ.objects.count() == 2 * pumps


def test_enqueue_checks_its_input(line_channel: Any) -> None:
    with pytest.raises(ValueError):
        outbox.enqueue_push(to="", messages=TEXT)
    with pytest.raises(ValueError):
        outbox.enqueue_push(to="U" + "1" * 32, messages=TEXT * 6)
    with pytest.raises(ValueError):
        outbox.enqueue_multicast(recipients=["U" + "1" * 32], messages=[])
    assert outbox.enqueue_multicast(recipients=iter(()), messages=TEXT) == []
    assert not OutboxItem.objects.exists()


def test_reply_with_a_valid_token_uses_reply(line_channel: Any, emu: EmulatorControl) -> None:
    user = followers(emu, 1)[0]
    item = outbox.enqueue_reply(reply_token=reply_token(emu, user), user_id=user, messages=TEXT)
    assert item.kind == Kind.REPLY
    sent = send_one()
    received = emu.received(user)
    assert [m["endpoint"] for m in received] == ["reply"]
    assert (sent.state, sent.kind, sent.attempts, sent.http_status, sent.error) == (
        State.SENT,
        Kind.REPLY,
        1,
        200,
        "",
    )
    assert sent.line_request_id == received[0]["request_id"]


def test_expired_reply_token_falls_back_to_push_with_a_fresh_retry_key(
    line_channel: Any, emu: EmulatorControl
) -> None:
    user = followers(emu, 1)[0]
    token = reply_token(emu, user)
    emu.advance_clock(60)  # LINE's side: the token has expired
    item = outbox.enqueue_reply(reply_token=token, user_id=user, messages=TEXT)
    sent = send_one()
    received = emu.received(user)
    assert [m["endpoint"] for m in received] == ["push"]
    assert (sent.state, sent.kind, sent.attempts, sent.http_status) == (State.SENT, Kind.PUSH, 1, 200)
    assert sent.retry_key != item.retry_key and sent.reply_token == token
    assert sent.error == outbox.NOTE_REPLY_AS_PUSH
    assert sent.line_request_id == received[0]["request_id"]


def test_reply_too_old_by_our_clock_goes_straight_to_push(line_channel: Any, emu: EmulatorControl) -> None:
    user = followers(emu, 2)
    late = outbox.enqueue_reply(
        reply_token=reply_token(emu, user[0]),
        user_id=user[0],
        messages=TEXT,
        received_at=timezone.now() - timedelta(minutes=5),
    )
    assert late.kind == Kind.PUSH
    waited = outbox.enqueue_reply(reply_token=reply_token(emu, user[1]), user_id=user[1], messages=TEXT)
    OutboxItem.objects.filter(pk=waited.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    assert {send_one().state, send_one().state} == {State.SENT}
    assert [m["endpoint"] for u in user for m in emu.received(u)] == ["push", "push"]


def test_reply_whose_answer_was_lost_is_not_sent_again(line_channel: Any, emu: EmulatorControl) -> None:
    user = followers(emu, 1)[0]
    outbox.enqueue_reply(reply_token=reply_token(emu, user), user_id=user, messages=TEXT)
    emu.set_faults({"reply": {"error_rate": 1.0, "status": 500, "after": True}})
    first = send_one()
    assert (first.state, first.kind, first.attempts, first.http_status) == (State.QUEUED, Kind.REPLY, 1, 500)
    emu.set_faults({})
    OutboxItem.objects.filter(pk=first.pk).update(next_attempt_at=timezone.now())
    second = send_one()
    assert (second.state, second.kind, second.attempts) == (State.SENT, Kind.REPLY, 2)
    assert second.error == outbox.NOTE_REPLY_USED
    assert len(emu.received(user)) == 1


def test_reply_refused_before_any_work_is_retried_as_reply(line_channel: Any, emu: EmulatorControl) -> None:
    user = followers(emu, 1)[0]
    outbox.enqueue_reply(reply_token=reply_token(emu, user), user_id=user, messages=TEXT)
    emu.set_faults({"reply": {"error_rate": 1.0, "status": 429}})
    first = send_one()
    assert (first.state, first.http_status) == (State.QUEUED, 429)
    emu.set_faults({})
    OutboxItem.objects.filter(pk=first.pk).update(next_attempt_at=timezone.now())
    second = send_one()
    assert (second.state, second.kind, second.attempts, second.http_status) == (
        State.SENT,
        Kind.REPLY,
        2,
        200,
    )
    assert [m["endpoint"] for m in emu.received(user)] == ["reply"]


def test_non_retryable_error_fails_at_once_with_lines_details(
    line_channel: Any, emu: EmulatorControl
) -> None:
    user = followers(emu, 1)[0]
    outbox.enqueue_push(to=user, messages=[{"type": "text", "text": ""}])
    failed = send_one()
    assert (failed.state, failed.attempts, failed.http_status) == (State.FAILED, 1, 400)
    assert "messages[0].text" in failed.error and failed.line_request_id
    assert outbox.claim_next() is None
    assert emu.received(user) == []


def test_retryable_errors_back_off_then_fail_after_max_attempts(
    line_channel: Any, emu: EmulatorControl, settings: Any
) -> None:
    settings.KAIRAN_LINE_ATTEMPTS = 1
    settings.KAIRAN_OUTBOX_MAX_ATTEMPTS = 3
    settings.KAIRAN_OUTBOX_BACKOFF = 10.0
    user = followers(emu, 1)[0]
    item = outbox.enqueue_push(to=user, messages=TEXT)
    emu.set_faults({"push": {"error_rate": 1.0, "status": 503}})
    delays = []
    for attempt in (1, 2):
        before = timezone.now()
        stored = send_one()
        assert (stored.state, stored.attempts, stored.http_status) == (State.QUEUED, attempt, 503)
        assert "503" in stored.error and stored.claim_token is None
        delays.append((stored.next_attempt_at - before).total_seconds())
        assert outbox.claim_next() is None  # not due yet
        OutboxItem.objects.filter(pk=item.pk).update(next_attempt_at=timezone.now())
    assert 7 <= delays[0] <= 13 and 14 <= delays[1] <= 26
    last = send_one()
    assert (last.state, last.attempts) == (State.FAILED, 3)
    assert "3 回試行" in last.error
    assert emu.received(user) == []


def test_a_full_rate_window_postpones_without_counting_an_attempt(
    line_channel: Any, emu: EmulatorControl, settings: Any
) -> None:
    settings.KAIRAN_LINE_RATE_LIMITS = {**settings.KAIRAN_LINE_RATE_LIMITS, "broadcast": (1, 3600)}
    users = followers(emu, 2)
    first = outbox.enqueue_broadcast(messages=TEXT)
    second = outbox.enqueue_broadcast(messages=TEXT)
    report = tasks_outbox.pump(threads=1, seconds=10)
    assert report["sent"] == 1 and report["queued"] == 1
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.state == State.SENT
    assert (second.state, second.attempts) == (State.QUEUED, 0)
    wait = (second.next_attempt_at - timezone.now()).total_seconds()
    assert 0 < wait <= 3600 and "上限" in second.error
    assert emu.deliveries()["perUser"] == {users[0]: 1, users[1]: 1}


def test_claims_are_exclusive(line_channel: Any) -> None:
    item = outbox.enqueue_push(to="U" + "2" * 32, messages=TEXT)
    claimed = outbox.claim_next()
    assert claimed is not None and claimed.pk == item.pk and claimed.state == State.SENDING
    assert claimed.claim_token and claimed.claimed_at and claimed.attempts == 1
    assert outbox.claim_next() is None
    assert outbox.claim(item.pk) is None


def test_abandoned_item_is_resent_with_the_same_key_and_delivered_once(
    line_channel: Any, emu: EmulatorControl, settings: Any
) -> None:
    user = followers(emu, 1)[0]
    item = outbox.enqueue_push(to=user, messages=TEXT)
    dead = outbox.claim_next()
    assert dead is not None
    with Gateway.from_settings() as gateway:  # the dead sender got as far as LINE accepting it
        accepted = gateway.push(to=user, messages=TEXT, retry_key=str(dead.retry_key))
    assert outbox.claim_next() is None  # its claim still holds...
    timeout = timedelta(seconds=settings.KAIRAN_OUTBOX_CLAIM_TIMEOUT + 1)
    OutboxItem.objects.filter(pk=item.pk).update(claimed_at=timezone.now() - timeout)
    taken = send_one()  # ...until it is older than the claim timeout
    assert (taken.state, taken.attempts, taken.http_status, taken.retry_key) == (
        State.SENT,
        2,
        409,
        item.retry_key,
    )
    # The dead sender's late answer is not recorded over the new one.
    assert outbox.send_claimed(dead, gateway=Gateway.from_settings()) == ""
    assert OutboxItem.objects.get(pk=item.pk).http_status == 409
    assert [m["request_id"] for m in emu.received(user)] == [accepted.request_id]


def test_tick_requeues_abandoned_items_and_gives_up_after_too_many(
    line_channel: Any, emu: EmulatorControl, settings: Any
) -> None:
    settings.KAIRAN_OUTBOX_MAX_ATTEMPTS = 2
    user = followers(emu, 1)[0]
    item = outbox.enqueue_push(to=user, messages=TEXT)
    old = timezone.now() - timedelta(seconds=settings.KAIRAN_OUTBOX_CLAIM_TIMEOUT + 1)
    OutboxItem.objects.filter(pk=item.pk).update(
        state=State.SENDING, claimed_at=old, claim_token=uuid.uuid4(), attempts=1
    )
    result = tasks_outbox.tick()
    assert result["reclaimed"] == 1 and result["pumps"] == tasks_outbox.pumps_per_kick()
    item.refresh_from_db()
    assert (item.state, item.claim_token, item.error) == (State.QUEUED, None, outbox.NOTE_ABANDONED)
    # Abandoned once more, at the last attempt: no further try.
    OutboxItem.objects.filter(pk=item.pk).update(state=State.SENDING, claimed_at=old, attempts=2)
    assert outbox.claim_next() is None
    item.refresh_from_db()
    assert item.state == State.FAILED and "中断" in item.error
    assert emu.received(user) == []


def test_keyed_multicast_commits_in_batches_and_a_repeat_adds_only_missing_chunks(
    line_channel: Any, emu: EmulatorControl
) -> None:
    users = followers(emu, 1201)
    key = uuid.uuid4()
    ids = outbox.enqueue_multicast(recipients=iter(users), messages=TEXT, key=key)
    items = list(OutboxItem.objects.filter(pk__in=ids).order_by("pk"))
    assert [item.retry_key for item in items] == [uuid.uuid5(key, str(n)) for n in range(3)]
    # The caller died before the last chunk was written; its retry writes that one only.
    OutboxItem.objects.filter(pk=ids[2]).delete()
    again = outbox.enqueue_multicast(recipients=iter(users), messages=TEXT, key=key)
    assert again[:2] == ids[:2] and again[2] != ids[2]
    assert OutboxItem.objects.count() == 3
    assert tasks_outbox.pump(threads=1, seconds=20)["sent"] == 3
    assert outbox.enqueue_multicast(recipients=iter(users), messages=TEXT, key=key) == again
    assert tasks_outbox.pump(threads=1, seconds=5).get("sent", 0) == 0
    per_user = emu.deliveries()["perUser"]
    assert len(per_user) == 1201 and set(per_user.values()) == {1}


def test_an_idle_pump_waits_for_soon_due_items_and_while_the_kick_guard_is_held(line_channel: Any) -> None:
    from django.core.cache import cache

    deadline = time.monotonic() + 30
    cache.delete(tasks_outbox.KICK_KEY)
    assert tasks_outbox._idle_pause(deadline) is None  # nothing pending: end
    tasks_outbox.kick(force=True)
    # (an enqueue's kick may have been skipped: look again soon)
    assert tasks_outbox._idle_pause(deadline) == tasks_outbox.GUARDED_PAUSE_SECONDS
    cache.delete(tasks_outbox.KICK_KEY)
    item = outbox.enqueue_push(to="U" + "4" * 32, messages=TEXT)
    OutboxItem.objects.filter(pk=item.pk).update(next_attempt_at=timezone.now() + timedelta(seconds=3))
    assert tasks_outbox._idle_pause(deadline) == 1.0  # due soon: look again in a second
    OutboxItem.objects.filter(pk=item.pk).update(next_attempt_at=timezone.now() + timedelta(seconds=60))
    assert tasks_outbox._idle_pause(deadline) is None  # the minute schedule will start a pump


def test_send_now_sends_its_items_together_and_skips_those_claimed_elsewhere(
    line_channel: Any, emu: EmulatorControl
) -> None:
    """How a worker sends the answers of the events it processed: one claim for all, the replies'
    rate-limit slots reserved together, the outcomes written in one transaction."""
    users = followers(emu, 3)
    items = [
        outbox.enqueue_reply(reply_token=reply_token(emu, user), user_id=user, messages=TEXT)
        for user in users
    ]
    taken = outbox.claim(items[2].pk)  # an outbox sender has this one
    assert taken is not None
    with Gateway.from_settings() as gateway, Gateway.from_settings(attempts=1) as reply_gateway:
        states = outbox.send_now(
            [items[1].pk, items[0].pk, items[2].pk], gateway=gateway, reply_gateway=reply_gateway
        )
    assert states == [State.SENT, State.SENT]
    stored = {item.pk: item for item in OutboxItem.objects.all()}
    assert [stored[item.pk].state for item in items] == [State.SENT, State.SENT, State.SENDING]
    assert all(stored[item.pk].line_request_id and stored[item.pk].claim_token is None for item in items[:2])
    assert [entry["endpoint"] for user in users[:2] for entry in emu.received(user)] == ["reply", "reply"]
    assert emu.received(users[2]) == []


def test_outcomes_recorded_together_are_written_at_the_end(line_channel: Any, emu: EmulatorControl) -> None:
    user = followers(emu, 1)[0]
    item = outbox.enqueue_push(to=user, messages=TEXT)
    claimed = outbox.claim(item.pk)
    assert claimed is not None
    with Gateway.from_settings() as gateway, outbox.recorded_together():
        assert outbox.send_claimed(claimed, gateway=gateway) == State.SENT
        assert OutboxItem.objects.get(pk=item.pk).state == State.SENDING  # not yet written
    assert OutboxItem.objects.get(pk=item.pk).state == State.SENT
