"""Delivery fan-out: a published 配信 to a 3-condition segment of N friends with 受信設定, end to end.

Usage: .venv/bin/python bench/delivery_fanout.py [--friends N] [--db sqlite|postgres]
                                                  [--segment example|wide] [--runs R] [--workers W]

Extends ``bench/outbox_fanout.py`` (whose helpers it imports): the LINE emulator
(``python -m emulator``, LINE's default rate limits: multicast 200 requests/s) and a real Django-Q
cluster (``manage.py qcluster``, the settings' workers unless ``--workers``), on a fresh SQLite file
in a temporary directory or on a scratch PostgreSQL database beside ``DATABASE_URL``'s (``--db
postgres`` without it: ``postgresql://postgres@127.0.0.1:5432/postgres``), dropped afterwards.

1. N + 1 virtual friends in the emulator (the first one only receives the warm-up push).
2. The N friends in Kairan with Ofunato's demo 受信設定, loaded in bulk as ``bench/audience_count.py``
   does (same distribution: random answers, one in ten has blocked the account; COPY on PostgreSQL),
   but with the emulator's user ids, so the channel knows every recipient as a friend.
3. ``deliveries.audience.count`` of the segment, R times (the median is ``audience_count_ms``).
   ``example`` is the issue's segment (lives or works in 盛町, aged 60 or over, wants クマ出没情報:
   about 2% of the friends); ``wide`` has three conditions that about 70% of them meet (aged 18 or
   over, does not live in 盛町, wants any topic but 市政情報), so that the sending, not the start,
   dominates the time.
4. The cluster starts and sends one warm-up push; then a ``Delivery`` (one text message, custom
   conditions, timing "now") is saved and its revision published, which schedules a ``DeliveryRun``
   and wakes the dispatcher. ``seconds`` runs from just before the publish until no outbox item of
   the run is pending any more (every chunk accepted by the emulator), polling the database.
5. ``floor_seconds`` = chunks / the multicast limit of ``KAIRAN_LINE_RATE_LIMITS`` (what LINE
   allows); ``ratio`` = seconds / floor. ``worker_peak_rss_mb`` is the largest VmHWM among the
   cluster's processes other than its main one (the workers, sentinel, monitor and pusher), as in
   the outbox bench. ``duplicates`` and ``missing`` compare the emulator's per-user counts with the
   recipients expected from the generated answers (computed in Python, not by the compiler under
   test); ``unexpected`` (detail line) counts users who received it but should not have.

Prints a detail line, then one JSON object on its last line.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
from friends import Town, time_count, write_friends
from outbox_fanout import (
    cpu_seconds,
    create_followers,
    free_port,
    group_members,
    peak_rss_mb,
    product_env,
    read_ids,
    setup_django,
    start_cluster,
    start_emulator,
    tear_down,
    wait_for_emulator,
)

TEXT = "【大船渡市】盛町の山沿いでクマが目撃されました。外出の際はご注意ください。"


BENCH_STARTED = time.monotonic()


def note(message: str) -> None:
    """Progress on stderr (a million friends take minutes to set up)."""
    print(f"[{time.monotonic() - BENCH_STARTED:7.1f} s] {message}", file=sys.stderr, flush=True)


def wait_until(done: Callable[[], bool], *, seconds: float, what: str, step: float = 0.02) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(step)


def load_friends(town: Town, ids_file: Path, friends: int) -> set[str]:
    """Write the friends with random 受信設定 as ``bench/audience_count.py`` does, but with the
    emulator's user ids; return the LINE user ids the segment should reach."""
    from residents import attributes
    from residents.attributes import REGISTERED

    # An HMAC per entry is most of the load's time; a town has a few hundred distinct entries.
    token_for = functools.cache(attributes.token_for)
    birth_year_token = functools.cache(attributes.birth_year_token)
    key = town.key
    rng = random.Random(6)  # noqa: S311 - test data, not secrets
    expected: set[str] = set()
    ids = read_ids(ids_file)
    next(ids)  # the warm-up user: a friend of the channel, not of Kairan

    def answers() -> Iterator[tuple[str, bool, list[str]]]:
        for _ in range(friends):
            user_id = next(ids)
            following = rng.random() >= 0.1
            home = rng.choice(town.home)
            born = rng.randint(town.year - 95, town.year - 10)
            work = rng.sample(town.work, rng.randint(0, 2))
            topics = rng.sample(town.topics, rng.randint(1, 3))
            if following and town.matches(born, home, work, topics):
                expected.add(user_id)
            chosen = [
                REGISTERED,
                token_for(key["性別"], rng.choice(town.gender)),
                birth_year_token(key["生まれ年"], born),
                token_for(key["お住まいの地区"], home),
                *(token_for(key["勤務先・通学先の地区"], c) for c in work),
                *(token_for(key["受け取りたい情報"], c) for c in topics),
            ]
            yield user_id, following, chosen

    write_friends(answers())
    return expected


def make_delivery(definition: dict[str, Any]) -> tuple[Any, Any]:
    """A delivery of one text message to the segment, timing "now", not yet published; its approver."""
    from django.contrib.auth.models import Group, User

    from deliveries.models import Audience, Delivery, Timing
    from kairan.staff.roles import APPROVER

    approver = User.objects.create_user(username="bench-shonin", email="shonin@example.jp", last_name="承認")
    approver.groups.add(Group.objects.get(name=APPROVER))
    delivery = Delivery(
        title="クマ出没のお知らせ（ベンチ）",
        category="disaster",
        messages=[("text", TEXT)],
        audience=Audience.CUSTOM,
        conditions=definition,
        timing=Timing.NOW,
        created_by=approver,
        live=False,
    )
    delivery.full_clean()
    delivery.save()
    return delivery, approver


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--friends", type=int, default=20000, help="friends with 受信設定 (default 20000)")
    parser.add_argument(
        "--db",
        choices=["sqlite", "postgres"],
        default="postgres" if os.environ.get("DATABASE_URL") else "sqlite",
        help="database (default: postgres when DATABASE_URL is set, else sqlite)",
    )
    parser.add_argument("--segment", choices=["example", "wide"], default="example", help="(default example)")
    parser.add_argument("--runs", type=int, default=5, help="timed audience counts (default 5)")
    parser.add_argument("--workers", type=int, default=0, help="Django-Q workers (default: the settings')")
    parser.add_argument("--timeout", type=float, default=600, help="seconds the send may take (default 600)")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="kairan-delivery-"))
    emulator_port = free_port()
    base = f"http://127.0.0.1:{emulator_port}"
    env = product_env(tmp, base, args.db, workers=args.workers)

    emulator = start_emulator(emulator_port, tmp / "emulator.log")
    cluster: subprocess.Popen[bytes] | None = None
    finished = False
    try:
        channel = wait_for_emulator(base, emulator)
        ids_file = tmp / "friends.txt"
        started = time.perf_counter()
        create_followers(base, channel["channelId"], args.friends + 1, ids_file)
        emulator_setup = time.perf_counter() - started
        note(f"{args.friends + 1} friends in the emulator; migrating the {args.db} database")

        setup_django(channel)
        from django.conf import settings
        from django.db import connection

        from deliveries.audience import validate
        from deliveries.models import DeliveryRun
        from line_channel import outbox
        from line_channel.models import OutboxItem

        note("migrated; loading friends and 受信設定")
        started = time.perf_counter()
        town = Town(args.segment)
        expected = load_friends(town, ids_file, args.friends)
        load_seconds = time.perf_counter() - started
        definition = validate(town.definition())
        note(f"loaded; counting the {args.segment} segment")
        audience, timings = time_count(definition, args.runs)
        note(f"audience {audience}; starting the cluster")

        delivery, approver = make_delivery(definition)
        cluster = start_cluster(env, tmp / "qcluster.log")
        warm_up_user = next(read_ids(ids_file))
        outbox.enqueue_push(to=warm_up_user, messages=[{"type": "text", "text": "起動確認"}])
        wait_until(
            lambda: not OutboxItem.objects.exclude(state=OutboxItem.State.SENT).exists(),
            seconds=60,
            what=f"the cluster's warm-up push (logs in {tmp})",
            step=0.05,
        )
        time.sleep(1.5)  # let the warm-up pumps finish idling
        cluster_pids = group_members(cluster.pid)
        cpu_before = {
            "cluster": cpu_seconds(cluster_pids),
            "emulator": cpu_seconds([emulator.pid]),
        }

        note("cluster up; publishing the delivery")
        wall_began = time.time()
        began = time.perf_counter()
        revision = delivery.save_revision(user=approver)
        revision.publish(user=approver)
        published = time.perf_counter() - began
        run = DeliveryRun.objects.filter(delivery=delivery).exclude(kind="test").latest("pk")
        pending = OutboxItem.objects.filter(purpose=run.purpose, state__in=outbox.PENDING)
        over = (DeliveryRun.State.FAILED, DeliveryRun.State.STOPPED, DeliveryRun.State.CANCELLED)
        deadline = time.monotonic() + args.timeout
        while True:
            run.refresh_from_db()
            if run.state in over:
                raise SystemExit(f"the run ended {run.state}: {run.error} (logs in {tmp})")
            # (a run closed before it was materialised is over too: its missing friends show)
            if (run.materialised or run.finished_at is not None) and not pending.exists():
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"the run was not sent in {args.timeout} s (logs in {tmp})")
            time.sleep(0.02)
        seconds = time.perf_counter() - began
        note(f"sent in {seconds:.2f} s; checking the emulator's counts")
        cpu_used = {
            "cluster": round(cpu_seconds(cluster_pids) - cpu_before["cluster"], 2),
            "emulator": round(cpu_seconds([emulator.pid]) - cpu_before["emulator"], 2),
        }
        rss = {pid: peak_rss_mb(pid) for pid in group_members(cluster.pid)}
        main_pid = cluster.pid
        worker_rss = [value for pid, value in rss.items() if pid != main_pid]
        wait_until(
            lambda: DeliveryRun.objects.filter(pk=run.pk).exclude(finished_at=None).exists(),
            seconds=30,
            what="the run's outcome",
            step=0.1,
        )
        run.refresh_from_db()
        items = OutboxItem.objects.filter(purpose=run.purpose)
        chunks = items.count()
        failed_items = items.filter(state=OutboxItem.State.FAILED).count()
        sent_times = sorted(t.timestamp() for t in items.values_list("sent_at", flat=True) if t is not None)
        created_times = sorted(t.timestamp() for t in items.values_list("created_at", flat=True))

        per_user: dict[str, int] = httpx.get(
            f"{base}/control/channels/{channel['channelId']}/deliveries", params={"limit": 0}, timeout=300
        ).json()["perUser"]
        duplicates = sum(max(0, per_user.get(user_id, 0) - 1) for user_id in expected)
        missing = sum(1 for user_id in expected if user_id not in per_user)
        unexpected = sum(1 for user_id in per_user if user_id not in expected and user_id != warm_up_user)
        db = connection.vendor
        limit, per = settings.KAIRAN_LINE_RATE_LIMITS["multicast"]
        connection.close()
        finished = True
    finally:
        tear_down(tmp, env, emulator, [cluster], keep_logs=not finished)

    def since_publish(at: float | None) -> float | None:
        return None if at is None else round(at - wall_began, 3)

    floor = chunks * per / limit
    print(
        json.dumps(
            {
                "detail": "setup and phases (seconds since the publish began)",
                "segment": args.segment,
                "emulator_setup_seconds": round(emulator_setup, 1),
                "load_seconds": round(load_seconds, 1),
                "audience_count_ms_all": [round(t, 1) for t in timings],
                "expected_recipients": len(expected),
                "audience_count": audience,
                "publish_seconds": round(published, 3),
                "run_started": since_publish(run.started_at.timestamp() if run.started_at else None),
                "first_chunk_queued": since_publish(created_times[0] if created_times else None),
                "last_chunk_queued": since_publish(created_times[-1] if created_times else None),
                "first_chunk_sent": since_publish(sent_times[0] if sent_times else None),
                "last_chunk_sent": since_publish(sent_times[-1] if sent_times else None),
                "run": {
                    "state": run.state,
                    "materialised": run.materialised,
                    "target_count": run.target_count,
                    "recipients_total": run.recipients_total,
                    "sent_count": run.sent_count,
                    "failed_count": run.failed_count,
                },
                "failed_items": failed_items,
                "unexpected": unexpected,
                "multicast_limit": f"{limit}/{per}s",
                "cluster_processes_peak_rss_mb": {
                    ("main" if pid == main_pid else str(pid)): round(value, 1)
                    for pid, value in sorted(rss.items())
                },
                "cpu_seconds": cpu_used,
                "load_average": os.getloadavg(),
                "cpus": os.cpu_count(),
            },
            ensure_ascii=False,
        )
    )
    print(
        json.dumps(
            {
                "db": db,
                "friends": args.friends,
                "audience_count_ms": round(statistics.median(timings), 1),
                "recipients": run.recipients_total,
                "seconds": round(seconds, 3),
                "floor_seconds": round(floor, 3),
                "ratio": round(seconds / floor, 3) if floor else None,
                "worker_peak_rss_mb": round(max(worker_rss, default=0.0), 1),
                "duplicates": duplicates,
                "missing": missing,
            }
        )
    )
    if audience != len(expected):
        print(f"audience.count gave {audience}, the answers say {len(expected)}", file=sys.stderr)


if __name__ == "__main__":
    main()
