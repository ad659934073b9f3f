"""The fetcher on its own (httpx's mock transport, a fake clock): robots.txt, pauses, caps, redirects."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from scraper.fetch import Fetcher, FetchError, Site

BASE = "https://www.city.example.jp"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 3))
        self.now += seconds


def fetcher(
    handler: Callable[[httpx.Request], httpx.Response], *, delay: float = 0, max_bytes: int = 1000
) -> tuple[Fetcher, Clock]:
    clock = Clock()
    made = Fetcher(
        site=Site.of(BASE),
        delay=delay,
        max_bytes=max_bytes,
        transport=httpx.MockTransport(handler),
        sleep=clock.sleep,
        clock=clock,
    )
    return made, clock


def pages(robots: str | int = "") -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/robots.txt":
            if isinstance(robots, int):
                return httpx.Response(robots)
            return httpx.Response(200, text=robots)
        return httpx.Response(200, html="<p>本文</p>")

    return handler


def test_pause_between_requests_and_crawl_delay() -> None:
    made, clock = fetcher(pages("User-agent: *\nCrawl-delay: 5\n"), delay=1)
    with made:
        assert made.allowed(f"{BASE}/a.html")
        made.get(f"{BASE}/a.html")
        clock.now += 2  # two seconds of work between the requests
        made.get(f"{BASE}/b.html")
    assert made.delay == 5
    assert clock.sleeps == [5.0, 3.0]  # after robots.txt, then the rest of the 5 seconds


@pytest.mark.parametrize(
    ("robots", "allowed"),
    [
        ("User-agent: KairanBot\nDisallow: /kurashi/\n\nUser-agent: *\nDisallow:\n", False),
        ("User-agent: *\nDisallow: /private/\n", True),
        (404, True),
        (403, False),
    ],
)
def test_robots_rules(robots: str | int, allowed: bool) -> None:
    made, _ = fetcher(pages(robots))
    assert made.allowed(f"{BASE}/kurashi/a.html") is allowed


def test_robots_that_fail_stop_everything() -> None:
    made, _ = fetcher(pages(503))
    with pytest.raises(FetchError, match=r"robots\.txt"):
        made.allowed(f"{BASE}/a.html")


def test_size_cap_is_read_as_the_body_arrives() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/robots.txt":
            return httpx.Response(404)

        def chunks() -> Iterator[bytes]:
            for _ in range(100):
                yield b"x" * 100

        return httpx.Response(200, headers={"Content-Type": "text/html"}, content=chunks())

    made, _ = fetcher(handler, max_bytes=1000)
    response = made.get(f"{BASE}/big.html")
    assert response.too_large and response.content == b"" and "大きすぎます" in response.problem
    small = made.get(f"{BASE}/big.html", max_bytes=20_000)
    assert small.ok and len(small.content) == 10_000


def test_redirects_stay_on_the_site_and_end() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/robots.txt":
            return httpx.Response(404)
        if path == "/loop.html":
            return httpx.Response(302, headers={"Location": "/loop.html"})
        if path == "/away.html":
            return httpx.Response(301, headers={"Location": "http://10.0.0.1/admin"})
        if path == "/moved.html":
            return httpx.Response(308, headers={"Location": "/new.html"})
        return httpx.Response(200, html="ok", headers={"Last-Modified": "x", "ETag": '"1"'})

    made, _ = fetcher(handler)
    assert made.get(f"{BASE}/loop.html").problem == "転送が多すぎます"
    away = made.get(f"{BASE}/away.html")
    assert away.problem == "別のサイトへの転送のため読みませんでした" and away.url == "http://10.0.0.1/admin"
    moved = made.get(f"{BASE}/moved.html")
    assert moved.ok and moved.url == f"{BASE}/new.html" and moved.redirects == [f"{BASE}/moved.html"]
    assert (moved.etag, moved.content_type) == ('"1"', "text/html")
    assert made.get("http://other.example.jp/a.html").problem == "別のサイトへの転送のため読みませんでした"


def test_network_errors_are_problems_not_exceptions() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/robots.txt":
            return httpx.Response(404)
        if request.url.path == "/slow.html":
            raise httpx.ReadTimeout("slow", request=request)
        raise httpx.ConnectError("refused", request=request)

    made, _ = fetcher(handler)
    assert made.get(f"{BASE}/slow.html").problem == "応答がありません（タイムアウト）"
    assert made.get(f"{BASE}/down.html").problem == "読めませんでした（ConnectError）"
