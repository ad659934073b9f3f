"""Response headers Django does not set by itself."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

# Paths only machines call (LINE's signed webhook): no staff member, session or cookie is ever
# involved, so middleware that serves staff (session rules, operation and access logs) returns
# at once for them instead of loading ``request.user``.
MACHINE_PATH_PREFIXES = ("/line/webhook/",)


def is_machine_request(request: HttpRequest) -> bool:
    return request.path_info.startswith(MACHINE_PATH_PREFIXES)


class ContentSecurityPolicyMiddleware:
    """Adds the Content-Security-Policy header (``KAIRAN_CSP``) to every response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.policy = settings.KAIRAN_CSP

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if self.policy and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = self.policy
        return response
