"""Chatbot reply latency under load: webhook received → reply sent, p50/p99, at a target rate.

Usage: .venv/bin/python bench/chatbot_reply.py [--rate R] [--seconds S] [--friends F]
           [--questions keyword|search|mixed] [--db sqlite|postgres] [--database-url URL]
           [--workers W] [--web-workers N] [--web-threads T] [--concurrency C] [--deadline D]

Everything is the product's own processes, as ``make run`` starts them:

1. A fresh database: SQLite in a temporary directory (default), or a scratch PostgreSQL database
   created beside ``--database-url`` (or ``DATABASE_URL``, else
   ``postgresql://postgres@127.0.0.1:5432/postgres``) with ``--db postgres``, dropped afterwards.
   Migrated, cache table and Django-Q schedules made (what ``manage.py prepare`` does), the
   chatbot starter pack published under the site root and wired as menu, greeting and fallback
   (``chatbot.demo.seed_chatbot``), LINE連携設定 aimed at the emulator's channel.
2. The LINE emulator (``python -m emulator``, LINE's default rate limits) with F friends.
3. Kairan's web server (granian, WSGI, as in ``bench/webhook_ingest.py``) and one Django-Q cluster
   (``manage.py qcluster``, ``--workers`` workers, default the settings').
4. A load generator in its own process posts signed webhook requests (``X-Line-Signature`` with
   the channel secret) to ``POST /line/webhook/`` at R requests/s for S seconds (open loop: a
   request is due at ``i / R``; C keep-alive connections), after a warm-up of min(100, R)
   requests whose replies are awaited and not counted. Each request carries one text message
   event of one of the friends, in turn; ``--questions`` picks the texts: starter-pack keywords,
   free text that only the Japanese search answers (a page, candidates or the fallback), or both
   alternately (default). The detail line says which path each distinct text takes.

The defaults (25 requests/s for 10 s) finish in about a minute, most of it the migrations; the
issue's target is ``--rate 1000 --seconds 10 --db postgres`` (p99 <= 1 s). Every process runs on
this machine, the emulator and the load generator included: ``cpu_seconds`` divided by the timed
requests gives each one's CPU cost per message, hence the cores a rate needs (once they are
short, events queue and the latency grows with the run).

Reply tokens. The emulator accepts only reply tokens it issued. Letting it post the webhooks
itself (its control API, one request per message, then its own HTTP client per webhook) would
put two HTTP exchanges in the emulator per message on the two cores Kairan is measured on. So
each message is "typed" by its friend through the emulator's control API before the run
(``POST /control/channels/{id}/users/{user}/message``, by a process of its own while the
database is set up, with the emulator's webhook unset): the emulator issues the event, with its
``webhookEventId``, message id, quote token and a genuine reply token, and posts it nowhere. The
generator sends these events, stamping ``timestamp`` with the moment it sends each one (then
signs the body), so for Kairan each event happened when it arrived. The tokens are issued before
the run, so the emulator's token lifetime is raised to an hour; Kairan's own reply window
(``KAIRAN_LINE_REPLY_WINDOW``, 20 s, counted from the event's timestamp and from the outbox
item's creation) decides reply or push exactly as with live events. LINE would take a reply only
within about 30 s of the event: ``replies_over_30s`` (detail line) counts later ones.

Measured per timed event, from the database: ``WebhookEvent.received_at`` (stored by the webhook
view) to ``OutboxItem.sent_at`` (recorded after the emulator accepted the reply; the item's
purpose is ``reply:<webhookEventId>``), for items sent as reply or — once the token was too old
— as push (``as_push`` in the detail line). ``missed_replies``: timed events with no sent item
``--deadline`` seconds (default 30) after the load ended (events not stored, non-200 answers,
failed sends, no answer). The detail line splits the time into stages: waiting for a processing
task to claim the event (``claimed_at``), the handler until the outbox item is created
(``created_at``; a claim takes 10 to 80 users' events, handled one after another), and the
outbox until sent; it also gives each process group's CPU seconds during the load (PostgreSQL's server
processes as ``database``), and how many
sent items the emulator confirms (their LINE request ids).

``p50_ms`` and ``p99_ms`` are taken over every timed event, a missed one counting as never
answered: when the percentile falls on a missed event it is ``null`` (the detail line gives the
percentiles of the replies that were sent, ``ms_received_to_sent_replies_only``).
``webhook_req_per_s`` is the rate achieved: timed requests / (last answer - first send).
Prints a detail line, then one JSON object on its last line:
db, webhook_req_per_s, replies, p50_ms, p99_ms, missed_replies.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from outbox_fanout import (
    cpu_seconds,
    create_followers,
    free_port,
    group_members,
    product_env,
    read_ids,
    setup_django,
    start_cluster,
    start_emulator,
    start_web,
    tear_down,
    wait_for_emulator,
)
from webhook_ingest import KeepAlive, percentile, read_response, signed_request, wait_for

PYTHON = sys.executable
PURPOSE = "reply:"  # line_channel.handling.REPLY_PURPOSE
TOKEN_TTL = 3600.0  # the emulator's reply-token lifetime during the bench (see the docstring)
WARMUP = 100  # requests before timing (fewer at a lower rate: one second's)
LINE_TOKEN_SECONDS = 30.0  # what LINE (and the emulator by default) gives a reply token

# The starter pack's keywords (exact or contained): answered without the search.
KEYWORD_QUESTIONS = [
    "ごみ",
    "窓口",
    "粗大ごみ",
    "住民票がほしい",
    "避難所はどこ",
    "子育て",
    "開庁時間を教えて",
    "証明書をとりたい",
    "検診",
    "電話番号を知りたい",
    "防災",
    "メニュー",
]
# Free text that contains no keyword: the Japanese BM25 search answers (a page, candidates, or
# the fallback and a count in 未回答の質問).
SEARCH_QUESTIONS = [
    "古い家具を捨てたいのですが",
    "印鑑証明がほしい",
    "ペットボトルはどうやって出せばいい？",
    "インフルエンザの予防接種はいつから",
    "保育園に入りたいです",
    "保育園に申し込みたい",
    "市役所は何時まで開いていますか",
    "戸籍謄本をとりたい",
    "割れた食器の捨て方",
    "津波の浸水想定を見たい",
    "明日の天気を教えて",
    "児童手当の支給日はいつ",
]


BENCH_STARTED = time.monotonic()


def note(message: str) -> None:
    """Progress on stderr."""
    print(f"[{time.monotonic() - BENCH_STARTED:6.1f} s] {message}", file=sys.stderr, flush=True)


def question(n: int, kind: str) -> str:
    if kind == "keyword":
        return KEYWORD_QUESTIONS[n % len(KEYWORD_QUESTIONS)]
    if kind == "search":
        return SEARCH_QUESTIONS[n % len(SEARCH_QUESTIONS)]
    pool = KEYWORD_QUESTIONS if n % 2 == 0 else SEARCH_QUESTIONS
    return pool[(n // 2) % len(pool)]


# --- the load generator (its own process) ------------------------------------------------------------


async def _drive(job: dict[str, Any]) -> dict[str, Any]:
    events: list[dict[str, Any]] = job["events"]
    count, rate, port = len(events), float(job["rate"]), int(job["port"])
    host = f"127.0.0.1:{port}"
    statuses = [0] * count
    sent_at = [0.0] * count  # wall clock, when the request was written
    answered = [0.0] * count  # monotonic, when its answer was read
    queue: asyncio.Queue[int | None] = asyncio.Queue()
    started = time.monotonic()

    async def pace() -> None:
        n = 0
        while n < count:
            due = int((time.monotonic() - started) * rate) + 1
            while n < min(due, count):
                queue.put_nowait(n)
                n += 1
            await asyncio.sleep(max(0.0, started + n / rate - time.monotonic()))
        for _ in range(job["concurrency"]):
            queue.put_nowait(None)

    def request(index: int) -> bytes:
        """Event ``index``'s request: the event happens as it is sent."""
        events[index]["timestamp"] = int(time.time() * 1000)
        raw = signed_request(host, job["secret"], job["destination"], events[index])
        sent_at[index] = time.time()
        return raw

    async def connection() -> None:
        http = KeepAlive(port, request)
        while (index := await queue.get()) is not None:
            statuses[index] = await http.send(index)
            answered[index] = time.monotonic()
        http.close()

    await asyncio.gather(pace(), *(connection() for _ in range(job["concurrency"])))
    return {
        "statuses": statuses,
        "sent_at": sent_at,
        "seconds": max(answered) - started if count else 0.0,
        "cpu_seconds": time.process_time(),
    }


def generate(path: str) -> None:
    job = json.loads(Path(path).read_text())
    result = asyncio.run(_drive(job))
    Path(path).with_suffix(".out").write_text(json.dumps(result))


def run_load(job_path: Path, job: dict[str, Any]) -> dict[str, Any]:
    job_path.write_text(json.dumps(job, ensure_ascii=False))
    subprocess.run([PYTHON, __file__, "--generate", str(job_path)], check=True)  # noqa: S603 - ourselves
    result: dict[str, Any] = json.loads(job_path.with_suffix(".out").read_text())
    return result


# --- set-up -------------------------------------------------------------------------------------------


async def _issue(
    port: int, channel_id: str, asks: list[tuple[str, str]], parallel: int
) -> list[dict[str, Any]]:
    """Have each (friend, text) typed in the emulator; return the events it issued (not posted).

    Plain HTTP/1.1 on keep-alive connections: an HTTP client library would take several times
    the emulator's own CPU time per request."""
    events: list[dict[str, Any]] = [{} for _ in asks]
    cursor = iter(range(len(asks)))

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for n in cursor:
                user_id, text = asks[n]
                body = json.dumps({"type": "text", "text": text}, ensure_ascii=False).encode()
                writer.write(
                    f"POST /control/channels/{channel_id}/users/{user_id}/message HTTP/1.1\r\n"
                    f"Host: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                status, closing, answer = await read_response(reader)
                if status != 200 or closing:
                    raise SystemExit(f"the emulator answered {status}: {answer[:300]!r}")
                (events[n],) = json.loads(answer)["events"]
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(parallel)))
    return events


def issue(path: str) -> None:
    """The issuer's own run (a process beside the database set-up): the job's events to a file."""
    job = json.loads(Path(path).read_text())
    asks = [tuple(ask) for ask in job["asks"]]
    events = asyncio.run(_issue(job["port"], job["channel_id"], asks, parallel=8))
    Path(path).with_suffix(".out").write_text(json.dumps(events, ensure_ascii=False))


def start_issuing(
    job_path: Path, port: int, channel_id: str, asks: list[tuple[str, str]]
) -> subprocess.Popen[bytes]:
    job_path.write_text(
        json.dumps({"port": port, "channel_id": channel_id, "asks": asks}, ensure_ascii=False)
    )
    return subprocess.Popen([PYTHON, __file__, "--issue", str(job_path)])  # noqa: S603 - ourselves


def issued(job_path: Path, process: subprocess.Popen[bytes]) -> list[dict[str, Any]]:
    if process.wait() != 0:
        raise SystemExit(f"issuing the events failed ({process.returncode})")
    events: list[dict[str, Any]] = json.loads(job_path.with_suffix(".out").read_text())
    return events


def seed_chatbot() -> None:
    from wagtail.models import Page

    from chatbot.demo import seed_chatbot as seed
    from kairan.core.schedules import ensure_schedules

    ensure_schedules()
    seed(home=Page.objects.get(depth=2), publisher=None)


def question_paths(kind: str) -> dict[str, str]:
    """How the bot will take each question: keyword, or the search's page / candidates / fallback."""
    from chatbot import content, engine

    texts = {question(n, kind) for n in range(len(KEYWORD_QUESTIONS) + len(SEARCH_QUESTIONS))}
    paths = {}
    for text in sorted(texts):
        if content.current().keywords.match(text):
            paths[text] = "keyword"
            continue
        found = engine.search(text)
        best = found[0].score if found else 0.0
        second = found[1].score if len(found) > 1 else 0.0
        if best >= engine.CONFIDENT_SCORE and best >= engine.LEAD * second:
            paths[text] = "search:page"
        elif any(page.score >= engine.CANDIDATE_SCORE for page in found[: engine.CANDIDATES]):
            paths[text] = "search:candidates"
        else:
            paths[text] = "search:fallback"
    return paths


# --- measuring ----------------------------------------------------------------------------------------


def wait_until(done: Callable[[], bool], *, seconds: float, step: float) -> bool:
    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() > deadline:
            return False
        time.sleep(step)
    return True


def settled() -> Callable[[], bool]:
    """True once no message event is pending and no chatbot outbox item waits to be sent (every
    answered request's event is stored before its 200, so nothing arrives later)."""
    from line_channel.models import OutboxItem, WebhookEvent
    from line_channel.outbox import PENDING

    def check() -> bool:
        if WebhookEvent.objects.filter(event_type="message", state=WebhookEvent.State.PENDING).exists():
            return False
        return not OutboxItem.objects.filter(purpose__startswith=PURPOSE, state__in=PENDING).exists()

    return check


def collect(event_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Per timed event id: its stored event's times and its chatbot outbox item's."""
    from line_channel.models import OutboxItem, WebhookEvent

    wanted = set(event_ids)
    rows: dict[str, dict[str, Any]] = {}
    for event_id, received, claimed, processed, state, error in WebhookEvent.objects.values_list(
        "event_id", "received_at", "claimed_at", "processed_at", "state", "error"
    ).iterator(chunk_size=2000):
        if event_id in wanted:
            rows[event_id] = {
                "received": received,
                "claimed": claimed,
                "processed": processed,
                "state": state,
                "error": error.splitlines()[0][:200] if error else "",
            }
    for purpose, kind, state, created, sent, request_id, item_error in (
        OutboxItem.objects.filter(purpose__startswith=PURPOSE)
        .values_list("purpose", "kind", "state", "created_at", "sent_at", "line_request_id", "error")
        .iterator(chunk_size=2000)
    ):
        row = rows.get(purpose[len(PURPOSE) :])
        if row is not None:
            row.update(
                kind=kind,
                item_state=state,
                created=created,
                sent=sent,
                request_id=request_id,
                item_error=item_error.splitlines()[0][:200] if item_error else "",
            )
    return rows


def ms_of_all(latencies: list[float], total: int, fraction: float) -> float | None:
    """A percentile of ``total`` events of which only ``latencies`` were answered (the others
    never): None when it falls on an unanswered one."""
    if total == 0:
        return None
    rank = round(fraction * (total - 1))
    return round(sorted(latencies)[rank] * 1000, 1) if rank < len(latencies) else None


def ms(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p99": None, "max": None}
    return {
        "p50": round(percentile(values, 0.50) * 1000, 1),
        "p99": round(percentile(values, 0.99) * 1000, 1),
        "max": round(max(values) * 1000, 1),
    }


def database_cpu(vendor: str) -> dict[int, float]:
    """CPU seconds used so far by each PostgreSQL server process on this machine (the bench's
    database is its only busy one); {} on SQLite, whose work is in the processes' own."""
    if vendor != "postgresql":
        return {}
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "comm").read_text().strip() == "postgres":
                pids.append(int(entry.name))
        except OSError:
            continue
    return {pid: cpu_seconds([pid]) for pid in pids}


def seconds_between(later: datetime | None, earlier: datetime | None) -> float | None:
    if later is None or earlier is None:
        return None
    return (later - earlier).total_seconds()


# --- the bench ----------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=25.0, help="webhook requests per second (default 25)")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds of timed load (default 10)")
    parser.add_argument("--friends", type=int, default=5000, help="friends who write (default 5000)")
    parser.add_argument(
        "--questions", choices=["keyword", "search", "mixed"], default="mixed", help="(default mixed)"
    )
    parser.add_argument(
        "--db",
        choices=["sqlite", "postgres"],
        default="postgres" if os.environ.get("DATABASE_URL") else "sqlite",
        help="database (default: postgres when DATABASE_URL is set, else sqlite)",
    )
    parser.add_argument(
        "--database-url", default="", help="a PostgreSQL server's URL (implies --db postgres)"
    )
    parser.add_argument("--workers", type=int, default=0, help="Django-Q workers (default: the settings')")
    parser.add_argument("--web-workers", type=int, default=2, help="granian workers (default 2)")
    parser.add_argument("--web-threads", type=int, default=4, help="blocking threads per worker (default 4)")
    parser.add_argument("--concurrency", type=int, default=32, help="keep-alive connections (default 32)")
    parser.add_argument("--deadline", type=float, default=30.0, help="seconds after the load for replies")
    parser.add_argument("--generate", default="", help=argparse.SUPPRESS)  # the load generator's own run
    parser.add_argument("--issue", default="", help=argparse.SUPPRESS)  # the event issuer's own run
    args = parser.parse_args()
    if args.generate:
        generate(args.generate)
        return
    if args.issue:
        issue(args.issue)
        return
    if args.database_url:
        args.db = "postgres"

    tmp = Path(tempfile.mkdtemp(prefix="kairan-chatbot-"))
    emulator_port, web_port = free_port(), free_port()
    base = f"http://127.0.0.1:{emulator_port}"
    env = product_env(tmp, base, args.db, args.database_url, args.workers)

    emulator = start_emulator(emulator_port, tmp / "emulator.log")
    web: subprocess.Popen[bytes] | None = None
    cluster: subprocess.Popen[bytes] | None = None
    finished = False
    try:
        channel = wait_for_emulator(base, emulator)
        channel_id = channel["channelId"]
        httpx.put(
            f"{base}/control/settings", json={"reply_token_ttl": TOKEN_TTL}, timeout=10
        ).raise_for_status()
        ids_file = tmp / "friends.txt"
        create_followers(base, channel_id, args.friends, ids_file)
        friends = list(read_ids(ids_file))
        warmup = max(1, round(min(args.rate, WARMUP)))
        timed = max(1, round(args.rate * args.seconds))
        asks = [(friends[n % len(friends)], question(n, args.questions)) for n in range(warmup + timed)]
        note(f"{args.friends} friends; issuing {len(asks)} events while the {args.db} database is set up")
        began = time.perf_counter()
        issuer = start_issuing(tmp / "issue.json", emulator_port, channel_id, asks)
        try:
            setup_django(channel)
            seed_chatbot()
            paths = question_paths(args.questions)
            from django.db import connection, connections

            db = connection.vendor
            connections.close_all()
            note("database ready; waiting for the events")
            issued_events = issued(tmp / "issue.json", issuer)
        finally:
            if issuer.poll() is None:
                issuer.kill()
                issuer.wait()
        issue_seconds = time.perf_counter() - began
        warm_events, timed_events = issued_events[:warmup], issued_events[warmup:]
        note("events issued; starting web and cluster")

        web = start_web(env, web_port, args.web_workers, args.web_threads, tmp / "web.log")
        cluster = start_cluster(env, tmp / "qcluster.log")
        wait_for(f"http://127.0.0.1:{web_port}/healthz", 60, web)
        job = {
            "port": web_port,
            "secret": channel["channelSecret"],
            "destination": channel.get("botUserId", ""),
            "rate": args.rate,
            "concurrency": args.concurrency,
        }

        warm_ids = [event["webhookEventId"] for event in warm_events]
        note(f"warming up with {warmup} requests")
        run_load(tmp / "warmup.json", {**job, "events": warm_events})
        if not wait_until(settled(), seconds=120, step=0.2):
            raise SystemExit(f"the warm-up was not answered in 120 s (logs in {tmp})")
        time.sleep(1.0)

        from line_channel.models import OutboxItem

        warm_rows = collect(warm_ids)
        warm_sent = sum(1 for row in warm_rows.values() if row.get("item_state") == OutboxItem.State.SENT)
        if warm_sent < len(warm_ids):
            print(f"warm-up: {len(warm_ids) - warm_sent} of {len(warm_ids)} not answered", file=sys.stderr)
        connections.close_all()

        web_pids = group_members(web.pid)
        cluster_pids = group_members(cluster.pid)
        cpu_before = {
            "web": cpu_seconds(web_pids),
            "cluster": cpu_seconds(cluster_pids),
            "emulator": cpu_seconds([emulator.pid]),
        }
        database_before = database_cpu(db)
        note(f"timed load: {timed} requests at {args.rate:g}/s")
        load_started = time.perf_counter()
        load = run_load(tmp / "timed.json", {**job, "events": timed_events})
        load_seconds = time.perf_counter() - load_started
        timed_ids = [event["webhookEventId"] for event in timed_events]
        note(f"load sent; waiting up to {args.deadline:g} s for the replies")
        complete = wait_until(settled(), seconds=args.deadline, step=0.25)
        settle_seconds = time.perf_counter() - load_started - load_seconds
        cpu_used = {
            "web": cpu_seconds(web_pids) - cpu_before["web"],
            "cluster": cpu_seconds(group_members(cluster.pid)) - cpu_before["cluster"],
            "emulator": cpu_seconds([emulator.pid]) - cpu_before["emulator"],
            "load_generator": load["cpu_seconds"],
        }
        if database_before:
            database_after = database_cpu(db)
            cpu_used["database"] = sum(
                seconds - database_before.get(pid, 0.0) for pid, seconds in database_after.items()
            )
        rows = collect(timed_ids)
        connections.close_all()
        accepted = set(
            httpx.get(f"{base}/control/channels/{channel_id}/deliveries", params={"limit": 0}, timeout=120)
            .json()["perRequest"]
            .keys()
        )
        finished = True
    finally:
        tear_down(tmp, env, emulator, [cluster, web], keep_logs=not finished)

    statuses = Counter(load["statuses"])
    sent_rows = [row for row in rows.values() if row.get("item_state") == OutboxItem.State.SENT]
    latencies = [seconds_between(row["sent"], row["received"]) or 0.0 for row in sent_rows]
    send_wall = dict(zip(timed_ids, load["sent_at"], strict=True))
    from_request = [
        row["sent"].timestamp() - send_wall[event_id]
        for event_id, row in rows.items()
        if row.get("item_state") == OutboxItem.State.SENT
    ]

    def stage(later: str, earlier: str) -> list[float]:
        values = [seconds_between(row.get(later), row.get(earlier)) for row in sent_rows]
        return [value for value in values if value is not None]

    missed = len(timed_ids) - len(sent_rows)
    kinds = Counter(row["kind"] for row in sent_rows)
    items_by_state = Counter(row.get("item_state", "none") for row in rows.values())
    events_by_state = Counter(row["state"] for row in rows.values())
    received = [row["received"] for row in rows.values()]
    processed = [row["processed"] for row in rows.values() if row.get("processed")]
    print(
        json.dumps(
            {
                "detail": (
                    f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
                    f"granian {args.web_workers}x{args.web_threads}, Django-Q workers "
                    f"{args.workers or 'default'}, {args.concurrency} connections"
                ),
                "questions": args.questions,
                "question_paths": dict(Counter(paths.values())),
                "friends": args.friends,
                "target_rate": args.rate,
                "timed_requests": len(timed_ids),
                "warmup_requests": warmup,
                "http_statuses": {str(k): v for k, v in sorted(statuses.items())},
                "load_seconds": round(load_seconds, 2),
                "settle_seconds_after_load": round(settle_seconds, 2),
                "all_settled": complete,
                "events_by_state": dict(events_by_state),
                "event_errors": dict(
                    Counter(row["error"] for row in rows.values() if row["error"]).most_common(3)
                ),
                "items_by_state": dict(items_by_state),
                "unsent_item_errors": dict(
                    Counter(
                        row["item_error"]
                        for row in rows.values()
                        if row.get("item_error") and row["item_state"] != OutboxItem.State.SENT
                    ).most_common(3)
                ),
                "as_reply": kinds.get(OutboxItem.Kind.REPLY, 0),
                "as_push": kinds.get(OutboxItem.Kind.PUSH, 0),
                "confirmed_by_emulator": sum(1 for row in sent_rows if row.get("request_id") in accepted),
                "replies_over_30s": sum(
                    1
                    for row, value in zip(sent_rows, latencies, strict=True)
                    if row["kind"] == OutboxItem.Kind.REPLY and value > LINE_TOKEN_SECONDS
                ),
                "ms_received_to_sent_replies_only": ms(latencies),
                "ms_request_sent_to_reply_sent": ms(from_request),
                "ms_stage_received_to_claimed": ms(stage("claimed", "received")),
                "ms_stage_claimed_to_queued": ms(stage("created", "claimed")),
                "ms_stage_queued_to_sent": ms(stage("sent", "created")),
                "processing_rate_per_s": (
                    round(len(processed) / (max(processed) - min(received)).total_seconds(), 1)
                    if processed
                    else None
                ),
                "cpu_seconds": {name: round(value, 1) for name, value in cpu_used.items()},
                "token_issue_seconds": round(issue_seconds, 1),
                "load_average": os.getloadavg(),
            },
            ensure_ascii=False,
        )
    )
    print(
        json.dumps(
            {
                "db": db,
                "webhook_req_per_s": round(len(timed_ids) / load["seconds"], 1) if load["seconds"] else None,
                "replies": len(sent_rows),
                "p50_ms": ms_of_all(latencies, len(timed_ids), 0.50),
                "p99_ms": ms_of_all(latencies, len(timed_ids), 0.99),
                "missed_replies": missed,
            }
        )
    )


if __name__ == "__main__":
    main()
