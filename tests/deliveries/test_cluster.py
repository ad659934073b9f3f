"""Deliveries with real Django-Q clusters (``manage.py qcluster`` subprocesses on the test
database): a scheduled send starts within seconds of its time, also right after a restart (the
cluster's ticker, not Django-Q's 30-second scheduler); killing the cluster in the middle of a
20,000-recipient send and starting it again delivers to each friend exactly once."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.utils import timezone

from deliveries.models import Audience, Delivery, DeliveryRun, Timing
from emulator.client import EmulatorControl
from kairan.core.crypto import line_user_hash
from kairan.staff.roles import APPROVER
from line_channel.models import Follower, OutboxItem
from tests.line.test_outbox_reliability import (
    Cluster,
    followers,
    transactional,
    wait_until,
)

State = DeliveryRun.State


def befriend(ids: list[str]) -> None:
    """Kairan's friend rows for the emulator's users, in bulk (the follow events' result)."""
    now = timezone.now()
    Follower.objects.bulk_create(
        [
            Follower(
                line_user_id=user_id,
                line_user_hash=line_user_hash(user_id),
                status=Follower.Status.FOLLOWING,
                first_followed_at=now,
                followed_at=now,
            )
            for user_id in ids
        ],
        batch_size=1000,
    )


def publish(approver: Any, **fields: Any) -> DeliveryRun:
    delivery = Delivery(
        title="避難所開設のお知らせ",
        messages=[("text", "【大船渡市】避難所を開設しました。")],
        audience=Audience.ALL,
        created_by=approver,
        live=False,
        **fields,
    )
    delivery.full_clean()
    delivery.save()
    delivery.save_revision(user=approver).publish(user=approver)
    return DeliveryRun.objects.get(delivery=delivery)


@transactional
def test_a_scheduled_send_starts_within_seconds_of_its_time_right_after_a_restart(
    emu: EmulatorControl, cluster: Cluster, make_staff: Callable[..., Any]
) -> None:
    users = followers(emu, 30)
    befriend(users)
    cluster.start()
    run = publish(
        make_staff("shonin", APPROVER), timing=Timing.AT, send_at=timezone.now() + timedelta(seconds=8)
    )
    time.sleep(2)
    cluster.kill()  # a restart shortly before the time: Django-Q's scheduler would wait 30 s
    cluster.start()
    wait_until(
        lambda: DeliveryRun.objects.filter(pk=run.pk, finished_at__isnull=False).exists(),
        timeout=60,
        what=f"the run finished (log: {cluster.log})",
        step=0.2,
    )
    run.refresh_from_db()
    assert run.started_at is not None
    assert timedelta(0) <= run.started_at - run.scheduled_for < timedelta(seconds=3)
    assert (run.state, run.sent_count) == (State.DONE, 30)
    assert set(emu.deliveries()["perUser"].values()) == {1}


@transactional
def test_killing_the_cluster_during_a_20000_recipient_send_delivers_exactly_once(
    emu: EmulatorControl, cluster: Cluster, make_staff: Callable[..., Any]
) -> None:
    users = followers(emu, 20_000)
    befriend(users)
    # LINE is slow and loses some answers after doing the work.
    emu.set_faults({"multicast": {"latency_ms": 300, "after": True, "error_rate": 0.2, "status": 500}})
    cluster.start()
    run = publish(make_staff("shonin", APPROVER), timing=Timing.NOW)
    items = OutboxItem.objects.filter(purpose=run.purpose)
    for _ in range(2):
        started = timezone.now()
        wait_until(
            items.filter(state=OutboxItem.State.SENDING, claimed_at__gte=started).exists,
            timeout=120,
            what=f"a chunk being sent (log: {cluster.log})",
        )
        time.sleep(random.uniform(0.2, 1.0))
        cluster.kill()
        cluster.start()
    wait_until(
        lambda: DeliveryRun.objects.filter(pk=run.pk, finished_at__isnull=False).exists(),
        timeout=240,
        what=f"the run finished (log: {cluster.log})",
        step=0.5,
    )
    cluster.stop()
    run.refresh_from_db()
    per_user = emu.deliveries()["perUser"]
    assert [user for user in users if per_user.get(user, 0) != 1] == []
    assert sum(per_user.values()) == 20_000
    assert (run.state, run.chunks_total, run.sent_count, run.failed_count) == (State.DONE, 40, 20_000, 0)
    assert cluster.kills == 2
