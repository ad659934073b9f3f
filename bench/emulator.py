"""LINE emulator figures: start-up time and multicast throughput (500 recipients per request).

Usage: .venv/bin/python bench/emulator.py [--seconds S] [--connections C] [--recipients N] [--processes P]
Starts ``python -m emulator --no-rate-limits`` on a free port, makes N virtual
followers, then sends multicast requests over C keep-alive connections (spread
over P load-generator processes) for S seconds. Prints one JSON object on its
last line. The issue's target: start < 2 s, >= 2,000 multicast requests/s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _connection(port: int, request: bytes, deadline: float, counts: dict[str, int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.monotonic() < deadline:
            writer.write(request)
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            counts["ok" if status == 200 else "errors"] += 1
    finally:
        writer.close()


def _generator(
    port: int, request: bytes, seconds: float, connections: int, queue: multiprocessing.Queue
) -> None:
    counts = {"ok": 0, "errors": 0}

    async def run() -> None:
        deadline = time.monotonic() + seconds
        await asyncio.gather(*(_connection(port, request, deadline, counts) for _ in range(connections)))

    asyncio.run(run())
    queue.put(counts)


def multicast_request(port: int, token: str, user_ids: list[str]) -> bytes:
    body = json.dumps(
        {"to": user_ids, "messages": [{"type": "text", "text": "大船渡市からのお知らせです。"}]}
    )
    data = body.encode()
    head = (
        "POST /api/v2/bot/message/multicast HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {token}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\n\r\n"
    )
    return head.encode() + data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--recipients", type=int, default=500)
    parser.add_argument("--processes", type=int, default=1)
    args = parser.parse_args()

    port = free_port()
    started = time.monotonic()
    server = subprocess.Popen(  # noqa: S603 - our own module
        [sys.executable, "-m", "emulator", "--port", str(port), "--no-rate-limits", "--log-level", "warning"],
        cwd=ROOT,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        while True:
            try:
                channels = httpx.get(base + "/control/channels", timeout=0.5).json()
                break
            except httpx.TransportError:
                if server.poll() is not None or time.monotonic() - started > 30:
                    raise SystemExit("the emulator did not start") from None
                time.sleep(0.02)
        startup = time.monotonic() - started
        channel = channels[0]
        created = httpx.post(
            f"{base}/control/channels/{channel['channelId']}/users",
            json={"count": args.recipients, "follow": True},
            timeout=60,
        ).json()
        request = multicast_request(port, channel["accessToken"], created["userIds"][: args.recipients])

        queue: multiprocessing.Queue = multiprocessing.Queue()
        per_process = max(1, args.connections // args.processes)
        workers = [
            multiprocessing.Process(target=_generator, args=(port, request, args.seconds, per_process, queue))
            for _ in range(args.processes)
        ]
        began = time.monotonic()
        for worker in workers:
            worker.start()
        totals = {"ok": 0, "errors": 0}
        for _ in workers:
            for key, value in queue.get().items():
                totals[key] += value
        for worker in workers:
            worker.join()
        elapsed = time.monotonic() - began
        deliveries = httpx.get(
            f"{base}/control/channels/{channel['channelId']}/deliveries", params={"limit": 0}, timeout=60
        ).json()["total"]
    finally:
        server.terminate()
        server.wait(timeout=10)

    print(
        json.dumps(
            {
                "startup_seconds": round(startup, 3),
                "recipients_per_request": args.recipients,
                "connections": args.connections,
                "seconds": round(elapsed, 2),
                "requests_ok": totals["ok"],
                "requests_failed": totals["errors"],
                "multicast_requests_per_second": round(totals["ok"] / elapsed, 1),
                "recipients_per_second": round(totals["ok"] * args.recipients / elapsed, 1),
                "deliveries_recorded": deliveries,
            }
        )
    )


if __name__ == "__main__":
    main()
