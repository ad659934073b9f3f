"""A tiny bot server for tests: records every webhook request (raw body and headers) and answers
with chosen status codes. Runs ``http.server`` in a thread on a free port."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.body)
        return data

    @property
    def events(self) -> list[dict[str, Any]]:
        return list(self.json()["events"])


class Receiver:
    def __init__(self) -> None:
        self.requests: list[Received] = []
        self._statuses: deque[int] = deque()
        self.default_status = 200
        self.delay = 0.0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                headers = {key.lower(): value for key, value in self.headers.items()}
                status = receiver._record(Received(self.path, headers, body))
                if receiver.delay:
                    time.sleep(receiver.delay)
                payload = b"{}"
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="webhook-receiver", daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/callback"

    def answer(self, *statuses: int, default: int = 200) -> None:
        """Answer the next requests with ``statuses`` in turn, then ``default``."""
        with self._lock:
            self._statuses = deque(statuses)
            self.default_status = default

    def _record(self, received: Received) -> int:
        with self._lock:
            self.requests.append(received)
            return self._statuses.popleft() if self._statuses else self.default_status

    def events(self) -> list[dict[str, Any]]:
        return [event for request in self.requests for event in request.events]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
