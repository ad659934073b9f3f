"""Response headers Django does not set by itself."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import resolve, reverse

# Endpoints only machines call, authenticated by their own means (LINE's signed webhook): no
# staff member, session, cookie or page is involved, so none of the middleware below the first
# one has anything to do for them (and the webhook is the product's hottest path).
MACHINE_ENDPOINTS = ("line_webhook",)


class MachineEndpointMiddleware:
    """First in MIDDLEWARE: calls the view of a machine endpoint directly, skipping the rest."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.views: dict[str, Callable[[HttpRequest], HttpResponse]] = {}
        for name in MACHINE_ENDPOINTS:
            path = reverse(name)
            self.views[path] = resolve(path).func

    def __call__(self, request: HttpRequest) -> HttpResponse:
        view = self.views.get(request.path_info)
        if view is not None:
            response = view(request)
            # What CommonMiddleware would add: without it a WSGI server may answer HTTP/1.1 chunked.
            if not response.streaming and "Content-Length" not in response:
                response["Content-Length"] = str(len(response.content))
            return response
        return self.get_response(request)


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
