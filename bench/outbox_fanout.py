"""Outbox fan-out: time to deliver one message to N virtual friends by multicast, against the emulator.

Usage: .venv/bin/python bench/outbox_fanout.py [--recipients N] [--clusters C] [--workers W]
                                                [--threads T]

Starts the LINE emulator (``python -m emulator``, LINE's default rate limits: multicast 200
requests/s) and ``manage.py qcluster`` (C clusters of W Django-Q workers, T sender threads per pump)
on a fresh SQLite file in a temporary directory, or on a scratch PostgreSQL database created next to
``DATABASE_URL``'s (and dropped afterwards). It makes N followers in the emulator, sends one warm-up
push, then times ``enqueue_multicast`` of the N recipients (streamed from a file, with a key:
committed in batches, so sending starts at once) until every outbox item is sent. The floor is what
LINE's rate limit allows: N / 500 / 200 seconds. Peak RSS is the largest VmHWM among the cluster
processes (the workers). Duplicates and missing recipients are counted by the emulator. Prints one
JSON object on its last line.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

ROOT = Path(__file__).resolve().parent.parent
MULTICAST_RECIPIENTS = 500
MULTICAST_PER_SECOND = 200  # LINE's (and the emulator's default) multicast limit
MESSAGE = [{"type": "text", "text": "【大船渡市】防災訓練のお知らせです。"}]
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
GRANIAN = str(Path(sys.executable).with_name("granian"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def scratch_postgres(url: str) -> str:
    """Create an empty database beside ``url``'s; return its URL."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = f"kairan_bench_{os.getpid()}"
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return urlunsplit(parts._replace(path=f"/{name}"))


def drop_postgres(url: str) -> None:
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def product_env(
    tmp: Path, emulator: str, db: str = "sqlite", server: str = "", workers: int = 0
) -> dict[str, str]:
    """The environment of the product's processes, made this process's too (with the project on its
    path): demo settings, ``tmp`` as the var directory, LINE's API at the emulator's base URL
    ``emulator``, ``workers`` Django-Q workers (0: the settings'), and a fresh database: with ``db``
    "postgres" a scratch PostgreSQL database beside ``server`` (else ``DATABASE_URL``, else
    ``DEFAULT_POSTGRES``), which ``tear_down`` drops; else SQLite in ``tmp``."""
    sys.path[:0] = [str(ROOT), str(ROOT / "site")]
    env = dict(os.environ)
    env.pop("DATABASE_URL", None)
    env.update(
        {
            "KAIRAN_DEMO": "1",
            "KAIRAN_LOG_LEVEL": "warning",
            "DJANGO_SETTINGS_MODULE": "kairan.settings",
            "KAIRAN_VAR_DIR": str(tmp),
            "KAIRAN_LINE_API_BASE": f"{emulator}/api",
            "KAIRAN_LINE_DATA_BASE": f"{emulator}/api-data",
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "site")]),
        }
    )
    if workers:
        env["KAIRAN_Q_WORKERS"] = str(workers)
    if db == "postgres":
        env["DATABASE_URL"] = scratch_postgres(server or os.environ.get("DATABASE_URL") or DEFAULT_POSTGRES)
    else:
        env["KAIRAN_SQLITE_PATH"] = str(tmp / "bench.sqlite3")
    os.environ.pop("DATABASE_URL", None)
    os.environ.update(env)
    return env


def start_emulator(port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(  # noqa: S603 - our own module
            [sys.executable, "-m", "emulator", "--port", str(port), "--log-level", "warning"],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def wait_for_emulator(base: str, process: subprocess.Popen[bytes]) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        try:
            channels: list[dict[str, Any]] = httpx.get(base + "/control/channels", timeout=1).json()
            return channels[0]
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the emulator did not start") from None
            time.sleep(0.05)


def create_followers(base: str, channel_id: str, count: int, path: Path) -> None:
    """Make ``count`` friends in the emulator and write their ids to ``path``, one a line."""
    with (
        httpx.Client(base_url=f"{base}/control/channels/{channel_id}", timeout=120) as http,
        path.open("w") as out,
    ):
        left = count
        while left:
            batch = min(1000, left)
            created = http.post("/users", json={"count": batch, "follow": True}).json()
            out.writelines(user_id + "\n" for user_id in created["userIds"])
            left -= batch


def setup_django(channel: dict[str, Any]) -> None:
    """Django on the bench's database: migrated, cache table made, LINE連携設定 aimed at the
    emulator's channel (``channel`` as ``wait_for_emulator`` returns it)."""
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    from line_channel.models import LineChannelSettings

    config = LineChannelSettings.load()
    config.channel_id = channel["channelId"]
    config.channel_secret = channel["channelSecret"]
    config.access_token = channel["accessToken"]
    config.save()


def read_ids(path: Path) -> Iterator[str]:
    with path.open() as lines:
        for line in lines:
            yield line[:-1]


def start_cluster(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the cluster and its workers
        )


def start_web(
    env: dict[str, str], port: int, workers: int, threads: int, log: Path
) -> subprocess.Popen[bytes]:
    """Kairan's web server as ``make run`` starts it: granian, WSGI, ``workers`` workers of
    ``threads`` blocking threads."""
    with log.open("ab") as out:
        return subprocess.Popen(  # noqa: S603 - the venv's granian
            [
                GRANIAN,
                "--interface",
                "wsgi",
                "kairan.wsgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(workers),
                "--blocking-threads",
                str(threads),
                "--backlog",
                "2048",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: granian and its workers
        )


def group_members(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid:  # fields after the name: state, ppid, pgrp, ...
            members.append(int(entry.name))
    return members


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes used so far."""
    ticks = 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def stop_cluster(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def tear_down(
    tmp: Path,
    env: dict[str, str],
    emulator: subprocess.Popen[bytes],
    groups: Iterable[subprocess.Popen[bytes] | None] = (),
    *,
    keep_logs: bool = False,
) -> None:
    """Stop the process ``groups`` (``None``: not started) and the emulator, drop the scratch
    PostgreSQL database of ``env``, if any, and remove ``tmp`` (kept when ``keep_logs``)."""
    for group in groups:
        if group is not None:
            stop_cluster(group)
    emulator.terminate()
    emulator.wait(timeout=10)
    if "DATABASE_URL" in env:
        from django.db import connections

        connections.close_all()
        drop_postgres(env["DATABASE_URL"])
    if keep_logs:
        print(f"logs kept in {tmp}", file=sys.stderr)
    else:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--recipients", type=int, default=100_000, help="virtual friends (default 100000)")
    parser.add_argument("--clusters", type=int, default=1, help="Django-Q clusters (default 1)")
    parser.add_argument("--workers", type=int, default=2, help="workers per cluster (default 2)")
    parser.add_argument(
        "--threads", type=int, default=0, help="sender threads per pump (default: KAIRAN_OUTBOX_THREADS)"
    )
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="kairan-fanout-"))
    emulator_port = free_port()
    base = f"http://127.0.0.1:{emulator_port}"
    postgres = bool(os.environ.get("DATABASE_URL"))
    env = product_env(tmp, base, "postgres" if postgres else "sqlite", workers=args.workers)
    if args.threads:
        env["KAIRAN_OUTBOX_THREADS"] = os.environ["KAIRAN_OUTBOX_THREADS"] = str(args.threads)

    emulator = start_emulator(emulator_port, tmp / "emulator.log")
    clusters: list[subprocess.Popen[bytes]] = []
    finished = False
    try:
        channel = wait_for_emulator(base, emulator)
        ids_file = tmp / "recipients.txt"
        started = time.monotonic()
        create_followers(base, channel["channelId"], args.recipients + 1, ids_file)
        followers_seconds = time.monotonic() - started

        setup_django(channel)
        from line_channel import outbox
        from line_channel.models import OutboxItem

        ids = read_ids(ids_file)
        warm_up_user = next(ids)  # not a recipient: its push only proves the cluster is up
        for n in range(args.clusters):
            clusters.append(start_cluster(env, tmp / f"qcluster-{n}.log"))
        outbox.enqueue_push(to=warm_up_user, messages=MESSAGE)
        deadline = time.monotonic() + 60
        while OutboxItem.objects.exclude(state=OutboxItem.State.SENT).exists():
            if time.monotonic() > deadline:
                raise SystemExit(f"the cluster did not send the warm-up push (logs in {tmp})")
            time.sleep(0.05)
        time.sleep(1.5)  # let the warm-up pumps finish idling

        cluster_pids = [pid for cluster in clusters for pid in group_members(cluster.pid)]
        cpu_before = {
            "cluster": cpu_seconds(cluster_pids),
            "emulator": cpu_seconds([emulator.pid]),
            "bench": time.process_time(),
        }
        began = time.perf_counter()
        item_ids = outbox.enqueue_multicast(
            recipients=ids, messages=MESSAGE, purpose="bench", key=uuid.uuid4()
        )
        enqueued = time.perf_counter() - began
        pending = OutboxItem.objects.filter(state__in=outbox.PENDING)
        while pending.exists():
            time.sleep(0.02)
        seconds = time.perf_counter() - began
        cpu_used = {
            "cluster": cpu_seconds(cluster_pids) - cpu_before["cluster"],
            "emulator": cpu_seconds([emulator.pid]) - cpu_before["emulator"],
            "bench": time.process_time() - cpu_before["bench"],
        }

        worker_rss = [
            peak_rss_mb(pid)
            for cluster in clusters
            for pid in group_members(cluster.pid)
            if pid != cluster.pid
        ]
        failed = OutboxItem.objects.filter(state=OutboxItem.State.FAILED).count()
        per_user: dict[str, int] = httpx.get(
            f"{base}/control/channels/{channel['channelId']}/deliveries", params={"limit": 0}, timeout=300
        ).json()["perUser"]
        duplicates = missing = 0
        for user_id in read_ids(ids_file):
            if user_id == warm_up_user:
                continue
            count = per_user.get(user_id, 0)
            missing += count == 0
            duplicates += max(0, count - 1)
        finished = True
    finally:
        tear_down(tmp, env, emulator, clusters, keep_logs=not finished)

    floor = args.recipients / MULTICAST_RECIPIENTS / MULTICAST_PER_SECOND
    print(
        json.dumps(
            {
                "detail": "setup and spread",
                "items": len(item_ids),
                "failed_items": failed,
                "enqueue_seconds": round(enqueued, 3),
                "followers_setup_seconds": round(followers_seconds, 1),
                "clusters": args.clusters,
                "workers": args.workers,
                "threads": args.threads or "default",
                "cluster_processes_rss_mb": sorted(round(r, 1) for r in worker_rss),
                "cpu_seconds": {name: round(value, 2) for name, value in cpu_used.items()},
                "load_average": os.getloadavg(),
                "cpus": os.cpu_count(),
            }
        )
    )
    print(
        json.dumps(
            {
                "db": "postgresql" if postgres else "sqlite",
                "recipients": args.recipients,
                "seconds": round(seconds, 3),
                "floor_seconds": round(floor, 3),
                "ratio": round(seconds / floor, 3),
                "worker_peak_rss_mb": round(max(worker_rss, default=0.0), 1),
                "duplicates": duplicates,
                "missing": missing,
            }
        )
    )


if __name__ == "__main__":
    main()
