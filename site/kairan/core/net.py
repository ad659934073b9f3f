"""Client address of a request, aware of trusted reverse proxies."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """The address of whoever made the request.

    ``X-Forwarded-For`` is believed only for the number of proxies the operator
    declared in ``KAIRAN_TRUSTED_PROXY_COUNT``; otherwise anyone could forge it.
    """
    remote = str(request.META.get("REMOTE_ADDR", "") or "")
    proxies = settings.KAIRAN_TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return remote
    forwarded = [part.strip() for part in str(request.META.get("HTTP_X_FORWARDED_FOR", "")).split(",")]
    forwarded = [part for part in forwarded if part]
    chain = [*forwarded, remote]
    # The last `proxies` entries were added by our own proxies; the one before is the client.
    index = len(chain) - 1 - proxies
    return chain[index] if index >= 0 else chain[0]
