"""Webhook ingest: signed LINE webhook requests per second, and their p50/p99 latency.

Usage: .venv/bin/python bench/webhook_ingest.py [--requests N] [--concurrency C]
           [--workers W] [--threads T] [--database-url postgres://postgres@127.0.0.1:5432/NAME]

Prepares a fresh database (SQLite in a temporary directory by default; with
``--database-url`` a scratch PostgreSQL database of that name, created and dropped by
this script), saves a channel secret in LINE連携設定, serves Kairan with granian
(as ``make run`` and the Docker image do: WSGI workers, every middleware of our settings)
and drives ``POST /line/webhook/`` from a load generator in another process: C keep-alive
connections, each request one LINE-shaped message event with its own ``webhookEventId``,
signed like LINE signs. After a warm-up, the timed run's latencies are measured per
request. Afterwards every event answered 200 is looked up in the database: ``lost`` counts
those missing plus every answer that was not 200.

The last line is one JSON object: db, requests, req_per_s, p50_ms, p99_ms, lost.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from outbox_fanout import free_port, start_web, stop_cluster

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SECRET = "bench-channel-secret-0123456789abcdef"  # noqa: S105 - a throwaway database's
BOT = "U0000000000000000000000000000b007"
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


# --- requests -------------------------------------------------------------------------------------


def ulid(n: int, run: int) -> str:
    value = (int(time.time() * 1000) << 80) | (run << 40) | n
    return "".join(CROCKFORD[(value >> (5 * i)) & 31] for i in reversed(range(26)))


def make_requests(count: int, run: int, host: str) -> list[tuple[str, bytes]]:
    """(webhookEventId, raw HTTP request) pairs: one text message event each, signed."""
    out = []
    base_ms = int(time.time() * 1000)
    for n in range(count):
        event_id = ulid(n, run)
        event = {
            "type": "message",
            "message": {
                "type": "text",
                "id": str(500000000000000000 + n),
                "quoteToken": f"q{n:030d}",
                "text": f"ごみの収集日を教えてください（{n}）",
            },
            "webhookEventId": event_id,
            "deliveryContext": {"isRedelivery": False},
            "timestamp": base_ms + n,
            "source": {"type": "user", "userId": f"U{n % 500:032x}"},
            "replyToken": f"{n:032x}",
            "mode": "active",
        }
        out.append((event_id, signed_request(host, SECRET, BOT, event)))
    return out


def signed_request(host: str, secret: str, destination: str, event: dict[str, Any]) -> bytes:
    """A raw ``POST /line/webhook/`` request of one event, signed with ``secret`` as LINE signs."""
    body = json.dumps({"destination": destination, "events": [event]}, ensure_ascii=False).encode()
    signature = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    head = (
        f"POST /line/webhook/ HTTP/1.1\r\nHost: {host}\r\nUser-Agent: LineBotWebhook/2.0\r\n"
        f"Content-Type: application/json; charset=utf-8\r\nX-Line-Signature: {signature}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    return head + body


# --- the load generator (its own process) ------------------------------------------------------------


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool, bytes]:
    """(status, whether the server closes the connection, body) of one HTTP/1.1 response."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
    body = b""
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            body += (await reader.readexactly(size + 2))[:-2]
        await reader.readuntil(b"\r\n")
    elif length := int(headers.get("content-length", "0")):
        body = await reader.readexactly(length)
    return status, headers.get("connection", "").lower() == "close", body


class KeepAlive:
    """A keep-alive connection to the server on ``port``, opened again after a close or an error,
    that sends ``request(n)`` (made once connected) for the n it is given."""

    def __init__(self, port: int, request: Callable[[int], bytes]) -> None:
        self.port = port
        self.request = request
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def send(self, n: int) -> int:
        """The status of the answer to ``request(n)``; 0 when there was none."""
        try:
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
            assert self.reader is not None
            self.writer.write(self.request(n))
            status, closing, _ = await read_response(self.reader)
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            status, closing = 0, True
        if closing:
            self.close()
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def _drive(port: int, requests: list[bytes], concurrency: int) -> tuple[list[int], list[float], float]:
    statuses = [0] * len(requests)
    latencies = [0.0] * len(requests)
    cursor = iter(range(len(requests)))

    async def connection() -> None:
        http = KeepAlive(port, requests.__getitem__)
        for index in cursor:
            started = time.perf_counter()
            statuses[index] = await http.send(index)
            latencies[index] = time.perf_counter() - started
        http.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return statuses, latencies, time.perf_counter() - started


def generate(args: argparse.Namespace) -> None:
    data = json.loads(Path(args.generate).read_text())
    requests = [base64.b64decode(item) for item in data["requests"]]
    warmup, timed = requests[: data["warmup"]], requests[data["warmup"] :]
    warm_statuses, _, _ = asyncio.run(_drive(args.port, warmup, args.concurrency)) if warmup else ([], [], 0)
    statuses, latencies, seconds = asyncio.run(_drive(args.port, timed, args.concurrency))
    Path(args.generate).with_suffix(".out").write_text(
        json.dumps({"warm": warm_statuses, "statuses": statuses, "latencies": latencies, "seconds": seconds})
    )


# --- the server ----------------------------------------------------------------------------------------


def scratch_database(url: str, action: str) -> None:
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = (
        f"host={parts.hostname or '127.0.0.1'} port={parts.port or 5432} user={parts.username or 'postgres'}"
    )
    if parts.password:
        admin += f" password={parts.password}"
    with psycopg.connect(admin + " dbname=postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        if action == "create":
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def wait_for(url: str, seconds: float, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"granian exited with {server.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - our own local server
                return
        except urllib.error.HTTPError:
            return  # it answers (/healthz is 503 while no Django-Q cluster runs)
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {seconds} s")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def run(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="kairan-webhook-bench-"))
    env = {
        **os.environ,
        "KAIRAN_DEMO": "1",
        "KAIRAN_VAR_DIR": str(tmp),
        "KAIRAN_LOG_LEVEL": "warning",
        "DJANGO_SETTINGS_MODULE": "kairan.settings",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "site")]),
    }
    env.pop("DATABASE_URL", None)
    if args.database_url:
        env["DATABASE_URL"] = args.database_url
        scratch_database(args.database_url, "create")
    else:
        env["KAIRAN_SQLITE_PATH"] = str(tmp / "bench.sqlite3")
    os.environ.update(env)
    server: subprocess.Popen[bytes] | None = None
    try:
        subprocess.run(  # noqa: S603 - our own interpreter and manage.py
            [PYTHON, "manage.py", "prepare", "--no-static", "--verbosity", "0"],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        sys.path[:0] = [str(ROOT), str(ROOT / "site")]
        import django

        django.setup()
        from django.db import connections

        from line_channel.models import LineChannelSettings, WebhookEvent

        config = LineChannelSettings.load()
        config.channel_secret = SECRET
        config.save()
        connections.close_all()

        port = args.port or free_port()
        server = start_web(env, port, args.workers, args.threads, tmp / "web.log")
        wait_for(f"http://127.0.0.1:{port}/healthz", 30, server)

        prepared = make_requests(
            args.warmup + args.requests, run=os.getpid() & 0xFFFF, host=f"127.0.0.1:{port}"
        )
        job = tmp / "load.json"
        job.write_text(
            json.dumps(
                {"warmup": args.warmup, "requests": [base64.b64encode(raw).decode() for _, raw in prepared]}
            )
        )
        subprocess.run(  # noqa: S603 - this script as the load generator
            [
                PYTHON,
                __file__,
                "--generate",
                str(job),
                "--port",
                str(port),
                "--concurrency",
                str(args.concurrency),
            ],
            check=True,
        )
        result = json.loads(job.with_suffix(".out").read_text())
        statuses = result["warm"] + result["statuses"]
        answered = [
            event_id for (event_id, _), status in zip(prepared, statuses, strict=True) if status == 200
        ]
        found: set[str] = set()
        for offset in range(0, len(answered), 900):
            chunk = answered[offset : offset + 900]
            found.update(WebhookEvent.objects.filter(event_id__in=chunk).values_list("event_id", flat=True))
        lost = (len(answered) - len(found & set(answered))) + sum(1 for s in statuses if s != 200)
        latencies = result["latencies"]
        db = "postgresql" if args.database_url else "sqlite"
        print(
            f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
            f"granian {args.workers} workers x {args.threads} blocking threads (WSGI); "
            f"load: {args.concurrency} connections, {args.warmup} warm-up + {args.requests} timed requests"
        )
        print(
            f"non-200 answers: {sum(1 for s in statuses if s != 200)}; "
            f"events stored: {WebhookEvent.objects.count()}; max latency {max(latencies) * 1000:.1f} ms"
        )
        print(
            json.dumps(
                {
                    "db": db,
                    "requests": len(latencies),
                    "req_per_s": round(len(latencies) / result["seconds"], 1),
                    "p50_ms": round(percentile(latencies, 0.50) * 1000, 2),
                    "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
                    "lost": lost,
                }
            )
        )
    finally:
        if server is not None:
            stop_cluster(server)  # (a process group too)
        try:
            from django.db import connections as open_connections

            open_connections.close_all()
        except ImportError:
            pass
        if args.database_url:
            scratch_database(args.database_url, "drop")
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=10000, help="timed requests (default 10000)")
    parser.add_argument("--warmup", type=int, default=2000, help="requests before timing (default 2000)")
    parser.add_argument("--concurrency", type=int, default=32, help="keep-alive connections (default 32)")
    parser.add_argument("--workers", type=int, default=2, help="web worker processes (default 2)")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker (default 4)")
    parser.add_argument("--database-url", default="", help="postgres://…/SCRATCH (created and dropped)")
    parser.add_argument("--port", type=int, default=0, help="port for the web server (default: a free one)")
    parser.add_argument("--generate", default="", help=argparse.SUPPRESS)  # the load generator's own run
    args = parser.parse_args()
    if args.generate:
        generate(args)
    else:
        run(args)


if __name__ == "__main__":
    main()
