"""Reading the city's website politely and safely.

- Only the configured site: http(s) URLs of its host and port (an http site may redirect to https on
  the same host); a redirect anywhere else is refused, so the scraper never reaches another host, a
  private address included, whatever a page links or redirects to.
- robots.txt is read first and obeyed (``urllib.robotparser``, as ``KairanBot``); its Crawl-delay
  lengthens the pause between requests when longer than the configured one.
- One request at a time with a pause between requests, timeouts, a size cap read as the body
  arrives (``Content-Length`` is not trusted), at most a few redirects.
"""

from __future__ import annotations

import gzip
import io
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote, urljoin, urlsplit, urlunsplit
from urllib.robotparser import RobotFileParser

import httpx

ROBOTS_AGENT = "KairanBot"
USER_AGENT = "Mozilla/5.0 (compatible; KairanBot/1.0; LINE chatbot of the city)"
MAX_REDIRECTS = 5
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 20.0
REQUEST_DEADLINE = 60.0  # a whole request, however slowly the bytes arrive
ROBOTS_MAX_BYTES = 500_000
SITEMAP_MAX_BYTES = 20_000_000
MAX_CRAWL_DELAY = 60.0
DEFAULT_PORTS = {"http": 80, "https": 443}
# Characters left as they are when a URL is percent-encoded (RFC 3986 reserved, and "%").
URL_SAFE = ":/?#[]@!$&'()*+,;=%~"


class FetchError(Exception):
    """The site cannot be read at all (e.g. robots.txt does not answer): the run stops."""


def _port(scheme: str, port: int | None) -> int:
    return port if port is not None else DEFAULT_PORTS.get(scheme, 0)


def canonical_url(url: str, base: str | None = None) -> str | None:
    """``url`` (relative to ``base``) as the scraper keys it: absolute, http(s), no fragment, lower-case
    scheme and host, no default port, non-ASCII characters percent-encoded. None if not a web URL."""
    try:
        joined = urljoin(base, url.strip()) if base else url.strip()
        parts = urlsplit(joined)
        scheme = parts.scheme.lower()
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        return None
    if scheme not in DEFAULT_PORTS or not host or parts.username or parts.password:
        return None
    try:
        host.encode("ascii")
    except UnicodeEncodeError:
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    netloc = host if port is None or port == DEFAULT_PORTS[scheme] else f"{host}:{port}"
    path = quote(parts.path or "/", safe=URL_SAFE)
    query = quote(parts.query, safe=URL_SAFE)
    return urlunsplit((scheme, netloc, path, query, ""))


@dataclass(frozen=True)
class Site:
    """The configured website: its scheme, host and port."""

    scheme: str
    host: str
    port: int

    @classmethod
    def of(cls, url: str) -> Site:
        parts = urlsplit(canonical_url(url) or "")
        if not parts.hostname:
            raise FetchError(f"URL が正しくありません: {url}")
        return cls(parts.scheme, parts.hostname.lower(), _port(parts.scheme, parts.port))

    @property
    def root(self) -> str:
        netloc = self.host if self.port == DEFAULT_PORTS[self.scheme] else f"{self.host}:{self.port}"
        return f"{self.scheme}://{netloc}/"

    def contains(self, url: str) -> bool:
        """Whether ``url`` is on this site (same host and port; http also accepts its https form)."""
        try:
            parts = urlsplit(url)
            scheme, host, port = parts.scheme.lower(), (parts.hostname or "").lower(), parts.port
        except ValueError:
            return False
        if host != self.host or scheme not in DEFAULT_PORTS or parts.username or parts.password:
            return False
        if scheme == self.scheme:
            return _port(scheme, port) == self.port
        # An http site that moved to https on the same host (http://host → https://host).
        return self.scheme == "http" and scheme == "https" and self.port == 80 and _port(scheme, port) == 443


@dataclass
class Response:
    """What one GET gave: the final URL, status and body, or a problem in Japanese."""

    url: str
    status: int = 0
    content: bytes = b""
    content_type: str = ""
    charset: str | None = None
    last_modified: str = ""
    etag: str = ""
    location: str = ""
    problem: str = ""
    too_large: bool = False
    redirects: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == 200 and not self.problem

    @property
    def is_html(self) -> bool:
        kind = self.content_type.lower()
        return not kind or kind in ("text/html", "application/xhtml+xml")


def _content_type(value: str) -> tuple[str, str | None]:
    kind, _, rest = value.partition(";")
    charset = None
    for parameter in rest.split(";"):
        name, _, parameter_value = parameter.strip().partition("=")
        if name.strip().lower() == "charset" and parameter_value.strip():
            charset = parameter_value.strip().strip("\"'")
    return kind.strip(), charset


class Fetcher:
    """GETs on one site, one at a time, with robots.txt, a pause between requests and size caps."""

    def __init__(
        self,
        *,
        site: Site,
        delay: float,
        max_bytes: int,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.site = site
        self.delay = max(0.0, float(delay))
        self.max_bytes = max_bytes
        self.requests = 0
        self._sleep = sleep
        self._clock = clock
        self._last_request: float | None = None
        self._robots: RobotFileParser | None = None
        self._client = httpx.Client(
            follow_redirects=False,
            timeout=httpx.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT),
            headers={"User-Agent": USER_AGENT, "Accept": "text/html,application/xhtml+xml,*/*;q=0.5"},
            transport=transport,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- robots.txt ---------------------------------------------------------------------------

    def robots(self) -> RobotFileParser:
        """The site's robots.txt (read once per fetcher). A 4xx means no rules (401/403: nothing
        may be read); a 5xx or no answer stops the run."""
        if self._robots is not None:
            return self._robots
        url = urljoin(self.site.root, "/robots.txt")
        parser = RobotFileParser(url)
        response = self.get(url, max_bytes=ROBOTS_MAX_BYTES, check_robots=False)
        if response.status == 200 and not response.problem:
            parser.parse(response.content.decode("utf-8", errors="replace").splitlines())
        elif response.status in (401, 403):  # as the standard library's read(): nothing may be read
            parser.parse(["User-agent: *", "Disallow: /"])
        elif 400 <= response.status < 500:  # no robots.txt: no rules
            parser.parse([])
        else:
            reason = response.problem or f"HTTP {response.status}"
            raise FetchError(
                f"robots.txt を読めませんでした（{reason}）。サイトが応答していない可能性があります。"
            )
        wanted = parser.crawl_delay(ROBOTS_AGENT)
        if wanted:
            self.delay = max(self.delay, min(float(wanted), MAX_CRAWL_DELAY))
        self._robots = parser
        return parser

    def allowed(self, url: str) -> bool:
        """Whether robots.txt lets KairanBot read ``url``."""
        return bool(self.robots().can_fetch(ROBOTS_AGENT, url))

    # --- GET ----------------------------------------------------------------------------------

    def _pause(self) -> None:
        if self._last_request is not None and self.delay > 0:
            wait = self.delay - (self._clock() - self._last_request)
            if wait > 0:
                self._sleep(wait)
        self._last_request = self._clock()

    def get(
        self,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        max_bytes: int | None = None,
        check_robots: bool = True,
    ) -> Response:
        """GET ``url`` on the site, following redirects that stay on it (each checked with robots.txt)."""
        cap = max_bytes or self.max_bytes
        redirects: list[str] = []
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            if not self.site.contains(current):
                return Response(
                    url=current, problem="別のサイトへの転送のため読みませんでした", redirects=redirects
                )
            if check_robots and not self.allowed(current):
                return Response(
                    url=current, problem="robots.txt で読むことが禁止されています", redirects=redirects
                )
            response = self._get_once(current, headers=headers, cap=cap)
            response.redirects = redirects
            if response.status in (301, 302, 303, 307, 308) and not response.problem:
                target = canonical_url(response.location, current) if response.location else None
                if target is None:
                    return Response(url=current, status=response.status, problem="転送先が正しくありません")
                redirects.append(current)
                current = target
                continue
            return response
        return Response(url=current, problem="転送が多すぎます", redirects=redirects)

    def _get_once(self, url: str, *, headers: dict[str, str] | None, cap: int) -> Response:
        self._pause()
        self.requests += 1
        started = self._clock()
        try:
            with self._client.stream("GET", url, headers=headers or {}) as reply:
                kind, charset = _content_type(reply.headers.get("content-type", ""))
                result = Response(
                    url=url,
                    status=reply.status_code,
                    content_type=kind,
                    charset=charset,
                    last_modified=reply.headers.get("last-modified", ""),
                    etag=reply.headers.get("etag", ""),
                )
                if reply.is_redirect or reply.status_code != 200:
                    result.location = reply.headers.get("location", "")
                    return result
                declared = reply.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > cap:
                    return self._too_large(result, cap)
                body = io.BytesIO()
                for chunk in reply.iter_bytes():
                    body.write(chunk)
                    if body.tell() > cap:
                        return self._too_large(result, cap)
                    if self._clock() - started > REQUEST_DEADLINE:
                        result.problem = "時間がかかりすぎるため読むのをやめました"
                        return result
                result.content = body.getvalue()
                return result
        except httpx.TimeoutException:
            return Response(url=url, problem="応答がありません（タイムアウト）")
        except (httpx.HTTPError, httpx.InvalidURL, UnicodeError, zlib.error) as error:
            return Response(url=url, problem=f"読めませんでした（{type(error).__name__}）")

    @staticmethod
    def _too_large(result: Response, cap: int) -> Response:
        result.problem = f"ページが大きすぎます（上限 {cap:,} バイト）"
        result.too_large = True
        return result


def ungzip(content: bytes, *, cap: int = SITEMAP_MAX_BYTES) -> bytes:
    """A gzip file's content (sitemap.xml.gz), read up to ``cap`` bytes; other bytes as they are."""
    if content[:2] != b"\x1f\x8b":
        return content
    with gzip.GzipFile(fileobj=io.BytesIO(content)) as handle:
        data = handle.read(cap + 1)
    if len(data) > cap:
        raise ValueError("sitemap too large")
    return data
