"""The webhook receiver: ``POST /line/webhook/``, where LINE posts what users do.

It checks the size (413 over ``MAX_BODY_BYTES``, from the Content-Length header, before
reading), the ``X-Line-Signature`` (400 when missing, 401 when it does not match the
base64 HMAC-SHA256 of the raw body keyed by the channel secret; compared in constant time),
parses the body (400 when it is not LINE's shape), stores each event once by its
``webhookEventId`` and answers 200 with an empty body. The work is left to Django-Q
(``line_channel.tasks``). LINE's verify request (``"events": []``) answers 200.

Rejections are logged (logger ``line_channel.webhook``) and counted per reason
(``rejection_counts()``; counts are kept in the shared cache, written at most once a second
per process so a flood of forged requests does not become a flood of writes).

The channel secret is read from the encrypted LINE連携設定 and kept in memory for
``SECRET_TTL_SECONDS``; a signature that does not match makes the receiver read it again
once, so a changed secret is used at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import threading
import time
from collections import Counter
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.db.models.signals import post_save
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from kairan.core.net import client_ip
from line_channel import tasks
from line_channel.events import MalformedWebhook, ParsedEvent, Stored, parse_body, store_events
from line_channel.models import LineChannelSettings

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024  # LINE's bodies are a few kilobytes
SECRET_TTL_SECONDS = 30.0
COUNT_FLUSH_SECONDS = 1.0
REASONS = ("missing_signature", "bad_signature", "too_large", "malformed", "not_configured")


def signature_of(secret: str, body: bytes) -> str:
    """``X-Line-Signature`` of a body: base64 of HMAC-SHA256 keyed by the channel secret."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def signature_matches(secret: str, body: bytes, header: str) -> bool:
    expected = signature_of(secret, body).encode("ascii")
    return hmac.compare_digest(expected, header.encode("latin-1", errors="replace"))


# --- the channel secret, kept briefly in memory ---------------------------------------------


class _SecretCache:
    def __init__(self) -> None:
        self._value: tuple[str, float] | None = None

    def get(self, *, fresh: bool = False) -> str:
        held = self._value
        if held is not None and not fresh and time.monotonic() < held[1]:
            return held[0]
        secret = LineChannelSettings.load().channel_secret or ""
        self._value = (secret, time.monotonic() + SECRET_TTL_SECONDS)
        return secret

    def forget(self, **kwargs: Any) -> None:
        self._value = None


channel_secret = _SecretCache()
post_save.connect(channel_secret.forget, sender=LineChannelSettings, dispatch_uid="line_webhook_secret")


# --- rejection counts ------------------------------------------------------------------------


class _RejectionCounter:
    """Counts per reason in this process, added to the shared cache at most once a second."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._local: Counter[str] = Counter()
        self._next_flush = 0.0

    @staticmethod
    def key(reason: str) -> str:
        return f"line_channel:webhook-rejected:{reason}"

    def add(self, reason: str) -> None:
        with self._lock:
            self._local[reason] += 1
            if time.monotonic() < self._next_flush:
                return
            self._next_flush = time.monotonic() + COUNT_FLUSH_SECONDS
            pending, self._local = self._local, Counter()
        self._flush(pending)

    def _flush(self, pending: Counter[str]) -> None:
        try:
            for reason, count in pending.items():
                cache.add(self.key(reason), 0, timeout=None)
                cache.incr(self.key(reason), count)
        except (DatabaseError, ValueError):
            log.exception("webhook rejection counts not saved")

    def flush(self) -> None:
        with self._lock:
            pending, self._local = self._local, Counter()
        self._flush(pending)

    def counts(self) -> dict[str, int]:
        self.flush()
        stored = cache.get_many([self.key(reason) for reason in REASONS])
        return {reason: int(stored.get(self.key(reason), 0)) for reason in REASONS}


rejections = _RejectionCounter()


def rejection_counts() -> dict[str, int]:
    """Rejected webhook requests per reason since the counts were last cleared (all processes)."""
    return rejections.counts()


def _reject(request: HttpRequest, status: int, reason: str, detail: str) -> HttpResponse:
    rejections.add(reason)
    log.warning("webhook rejected (%s, %d): %s; from %s", reason, status, detail, client_ip(request))
    return HttpResponse(detail, status=status, content_type="text/plain; charset=utf-8")


# --- storing ----------------------------------------------------------------------------------


def _store(parsed: list[ParsedEvent]) -> Stored:
    """Store the events; on a connection that died since its last use, once more on a new one.

    With ``CONN_HEALTH_CHECKS`` Django pings a reused PostgreSQL connection before the first
    query of every request: a round trip per webhook, on the path that must take 1,000
    requests a second. Here the insert itself is the check: it fails on a dead connection,
    which is closed and the insert retried (it stores each ``webhookEventId`` once, so a retry
    after an insert that did commit finds the events stored and changes nothing).
    """
    connection.health_check_done = True  # type: ignore[attr-defined]  # skip this request's ping
    received_at = timezone.now()
    try:
        return store_events(parsed, received_at=received_at)
    except (InterfaceError, OperationalError):
        if connection.in_atomic_block:
            raise
        log.warning("webhook: the database connection failed; storing again on a new one")
        connection.close()
        return store_events(parsed, received_at=received_at)


# --- the view ----------------------------------------------------------------------------------


@csrf_exempt
@require_POST
def receive(request: HttpRequest) -> HttpResponse:
    limit = int(getattr(settings, "KAIRAN_LINE_WEBHOOK_MAX_BYTES", MAX_BODY_BYTES))
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return _reject(request, 400, "malformed", "bad Content-Length")
    if length > limit:
        return _reject(request, 413, "too_large", f"body of {length} bytes is over {limit}")
    header = request.META.get("HTTP_X_LINE_SIGNATURE", "")
    if not header:
        return _reject(request, 400, "missing_signature", "X-Line-Signature is missing")
    body = request.body
    secret = channel_secret.get()
    if not secret or not signature_matches(secret, body, header):
        renewed = channel_secret.get(fresh=True)
        if not renewed:
            return _reject(request, 503, "not_configured", "the channel secret is not set")
        if renewed == secret or not signature_matches(renewed, body, header):
            return _reject(request, 401, "bad_signature", "X-Line-Signature does not match the body")
    try:
        parsed = parse_body(body)
    except MalformedWebhook as exc:
        return _reject(request, 400, "malformed", str(exc))
    if parsed:
        stored = _store(parsed)
        if stored.new:
            tasks.request_processing()
    return HttpResponse(status=200)
