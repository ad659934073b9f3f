"""Exactly-once delivery under trouble.

(a) Real Django-Q clusters (``manage.py qcluster`` subprocesses on the test database) are killed
    with SIGKILL again and again in the middle of a 5,000-recipient multicast while LINE is slow
    and loses some answers after doing the work; each is restarted → every recipient got the
    message exactly once.
(b) LINE answers 20% of requests with 429, 500, a timeout, or loses the answer after the work →
    every message is eventually delivered exactly once.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.db import connection
from django.utils import timezone

from emulator.client import EmulatorControl
from emulator.server import RunningEmulator
from line_channel import outbox, tasks_outbox
from line_channel.models import OutboxItem

ROOT = Path(__file__).resolve().parents[2]
TEXT = [{"type": "text", "text": "【大船渡市】避難所の開設をお知らせします。"}]
State = OutboxItem.State

transactional = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def followers(emu: EmulatorControl, count: int) -> list[str]:
    ids: list[str] = []
    while len(ids) < count:
        ids += emu.create_followers(min(1000, count - len(ids)))
    return ids


def wait_until(condition: Any, *, timeout: float, what: str, step: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(step)


def database_env() -> dict[str, str]:
    """Environment that points a subprocess at this test run's database."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return {"KAIRAN_SQLITE_PATH": str(db["NAME"])}
    auth = quote(str(db["USER"] or ""), safe="")
    if db["PASSWORD"]:
        auth += ":" + quote(str(db["PASSWORD"]), safe="")
    return {
        "DATABASE_URL": f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    }


class Cluster:
    """``manage.py qcluster`` in its own process group, so SIGKILL takes the workers too."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self.kills = 0

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "qcluster"],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def kill(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.kills += 1

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


@pytest.fixture
def cluster(line_emulator: RunningEmulator, line_channel: Any, tmp_path: Path) -> Iterator[Cluster]:
    env = {
        **os.environ,
        **database_env(),
        "DJANGO_SETTINGS_MODULE": "kairan.settings_test",
        "KAIRAN_LOG_LEVEL": "info",
        "KAIRAN_LINE_API_BASE": line_emulator.config.api_base,
        "KAIRAN_LINE_DATA_BASE": line_emulator.config.data_base,
        "KAIRAN_LINE_BACKOFF_MS": "50",
        "KAIRAN_Q_WORKERS": "2",
        "KAIRAN_OUTBOX_THREADS": "2",
        "KAIRAN_OUTBOX_CLAIM_TIMEOUT": "6",
        "KAIRAN_OUTBOX_BACKOFF_MS": "200",
        "KAIRAN_OUTBOX_MAX_ATTEMPTS": "20",
    }
    running = Cluster(env, tmp_path / "qcluster.log")
    yield running
    running.stop()


@transactional
def test_sigkilled_clusters_deliver_each_recipient_exactly_once(
    emu: EmulatorControl, cluster: Cluster
) -> None:
    users = followers(emu, 5000)
    # LINE is slow, and 30% of its answers are lost after it accepted the request.
    emu.set_faults({"multicast": {"latency_ms": 1500, "after": True, "error_rate": 0.3, "status": 500}})
    ids = outbox.enqueue_multicast(recipients=iter(users), messages=TEXT, purpose="避難情報")
    assert len(ids) == 10
    items = OutboxItem.objects.filter(pk__in=ids)
    cluster.start()
    for _ in range(4):
        if not items.exclude(state=State.SENT).exists():
            break
        # Kill while requests are in flight: LINE has done the work, the answers are not back.
        started = timezone.now()
        wait_until(
            items.filter(state=State.SENDING, claimed_at__gte=started).exists,
            timeout=60,
            what=f"a claim by the new cluster (log: {cluster.log})",
        )
        time.sleep(random.uniform(0.1, 1.0))
        cluster.kill()
        cluster.start()
        tasks_outbox.kick(force=True)  # what the every-minute schedule does, without the wait
    assert cluster.kills >= 3
    wait_until(
        lambda: not items.exclude(state=State.SENT).exists(),
        timeout=120,
        what=f"every item sent (log: {cluster.log})",
        step=0.2,
    )
    cluster.stop()

    per_user = emu.deliveries()["perUser"]
    assert len(users) == 5000
    assert [user for user in users if per_user.get(user, 0) != 1] == []
    assert sum(per_user.values()) == 5000
    outcomes = list(items.values_list("state", "attempts", "http_status", "line_request_id"))
    assert all(state == State.SENT and request_id for state, _, _, request_id in outcomes)
    # The kills did land mid-send: some items were taken over and re-sent under their key.
    assert sum(attempts for _, attempts, _, _ in outcomes) > 10
    assert any(status == 409 for _, _, status, _ in outcomes)


FAULTS = {
    "429": {"error_rate": 0.2, "status": 429},
    "500": {"error_rate": 0.2, "status": 500},
    "500 after the work": {"error_rate": 0.2, "status": 500, "after": True},
    "timeout": {"error_rate": 0.2, "timeout": True},
    "timeout after the work": {"error_rate": 0.2, "timeout": True, "after": True},
}


@transactional
@pytest.mark.parametrize("fault", list(FAULTS))
def test_every_message_is_delivered_exactly_once_despite_faults(
    line_channel: Any, emu: EmulatorControl, settings: Any, fault: str
) -> None:
    settings.KAIRAN_LINE_TIMEOUT = 0.5
    settings.KAIRAN_LINE_ATTEMPTS = 1  # every fault goes through the outbox
    settings.KAIRAN_OUTBOX_BACKOFF = 0.05
    settings.KAIRAN_OUTBOX_MAX_ATTEMPTS = 30
    users = followers(emu, 1040)
    pushed, replied, multicast = users[:30], users[30:40], users[40:]
    tokens = {user: emu.send_text(user, "避難所はどこですか")["events"][0]["replyToken"] for user in replied}
    emu.set_faults({"*": FAULTS[fault]})

    for user in pushed:
        outbox.enqueue_push(to=user, messages=TEXT)
    for user in replied:
        outbox.enqueue_reply(reply_token=tokens[user], user_id=user, messages=TEXT)
    outbox.enqueue_multicast(recipients=multicast, messages=TEXT)
    outbox.enqueue_broadcast(messages=[{"type": "text", "text": "訓練を終了します。"}])

    report = tasks_outbox.pump(seconds=90, threads=4)
    emu.set_faults({})
    assert report.get("failed", 0) == 0
    assert not OutboxItem.objects.exclude(state=State.SENT).exists()
    # Every user: the broadcast, plus the one message meant for them, each exactly once.
    assert emu.deliveries()["perUser"] == dict.fromkeys(users, 2)
    assert OutboxItem.objects.filter(attempts__gt=1).exists()  # the faults were felt
    if FAULTS[fault].get("after"):  # LINE had done the work: the repeat was refused as a duplicate
        assert OutboxItem.objects.filter(http_status=409).exists()
