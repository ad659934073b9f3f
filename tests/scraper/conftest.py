"""A small fictional city website (みなと市, files in ``site/``) served on loopback by the test itself,
a second server standing for another site (it must never be asked anything), and sources for them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

SITE = Path(__file__).resolve().parent / "site"
LAST_MODIFIED = "Wed, 05 Mar 2025 01:00:00 GMT"  # /kurashi/bousai.html only

# Content types as the fictional city's server sends them: most pages say no charset (the page's
# <meta> or the bytes decide); the 避難所 page is Shift_JIS and says so only in the header.
CONTENT_TYPES = {
    "/kurashi/bousai.html": "text/html; charset=Shift_JIS",
    "/robots.txt": "text/plain",
    "/sitemap.xml": "application/xml",
}


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeSite:
    """What the server serves and what it was asked (paths in order)."""

    root: Path = SITE
    requests: list[str] = field(default_factory=list)
    headers_seen: list[dict[str, str]] = field(default_factory=list)
    version: int = 1
    gone: set[str] = field(default_factory=set)
    overrides: dict[str, Reply] = field(default_factory=dict)
    base: str = ""
    external: str = ""
    pause: float = 0.0  # seconds before each answer (a slow site)

    def reply(self, path: str, headers: dict[str, str]) -> Reply:
        if path in self.overrides:
            return self.overrides[path]
        if path in self.gone:
            return Reply(404, "見つかりません".encode())
        name = path.lstrip("/") or "index.html"
        if name.endswith("/"):
            name += "index.html"
        if self.version >= 2 and name in ("kurashi/henkou.html", "sitemap.xml"):
            name = name.replace(".", "-v2.", 1)
        file = (self.root / name).resolve()
        if self.root not in file.parents or not file.is_file():
            return Reply(404, b"not found")
        body = (
            file.read_bytes()
            .replace(b"{BASE}", self.base.encode())
            .replace(b"{EXTERNAL}", self.external.encode())
        )
        kind = CONTENT_TYPES.get(path, "text/html" if name.endswith(".html") else "application/octet-stream")
        extra = {"Content-Type": kind}
        if path == "/kurashi/bousai.html":
            extra["Last-Modified"] = LAST_MODIFIED
            if headers.get("if-modified-since") == LAST_MODIFIED:
                return Reply(304, b"", extra)
        return Reply(200, body, extra)

    def paths(self) -> list[str]:
        return [request.split("?")[0] for request in self.requests]

    def count(self, path: str) -> int:
        return self.paths().count(path)


def _serve(site: FakeSite) -> tuple[ThreadingHTTPServer, threading.Thread]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            if site.pause:
                time.sleep(site.pause)
            site.requests.append(self.path)
            headers = {key.lower(): value for key, value in self.headers.items()}
            site.headers_seen.append(headers)
            reply = site.reply(self.path.split("?")[0], headers)
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


@pytest.fixture
def other_site() -> Iterator[FakeSite]:
    """Another website (another port of loopback): the scraper must never ask it anything."""
    site = FakeSite()
    server, thread = _serve(site)
    site.base = f"http://127.0.0.1:{server.server_address[1]}"
    yield site
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def city_site(other_site: FakeSite) -> Iterator[FakeSite]:
    """The fictional city's website on a free port of 127.0.0.1."""
    site = FakeSite()
    server, thread = _serve(site)
    site.base = f"http://127.0.0.1:{server.server_address[1]}"
    site.external = other_site.base
    yield site
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def make_source(db: None, city_site: FakeSite) -> Callable[..., Any]:
    """A 取り込み設定 for the fictional site (sitemap by default), reading without pauses."""
    from scraper.models import ScrapeSource

    def _make(**fields: Any) -> ScrapeSource:
        values: dict[str, Any] = {
            "name": "みなと市ホームページ",
            "sitemap_url": f"{city_site.base}/sitemap.xml",
            "delay_seconds": 0,
        }
        values.update(fields)
        return ScrapeSource.objects.create(**values)

    return _make
