"""Per-request bookkeeping for the operation and access logs."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from kairan.oplog import context
from kairan.oplog.services import record, record_access
from kairan.oplog.signals import flush_pending_writes

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
EXPORT_FORMATS = {"csv", "xlsx"}


class OperationContextMiddleware:
    """Makes the request available to log writers, and after the response:

    - logs committed model writes nothing more specific covered;
    - logs an admin form submission or an export that left no entry at all;
    - writes the access log for staff requests and admin screens.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.admin_prefix = reverse("wagtailadmin_home")

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.monotonic()
        token = context.activate(request)
        try:
            response = self.get_response(request)
            ctx = context.current()
            assert ctx is not None
            self._after(request, response, ctx, started)
        finally:
            context.deactivate(token)
        return response

    def _after(
        self, request: HttpRequest, response: HttpResponse, ctx: context.RequestContext, started: float
    ) -> None:
        user = getattr(request, "user", None)
        is_staff_request = bool(user is not None and user.is_authenticated)
        in_admin = request.path.startswith(self.admin_prefix)
        if is_staff_request:
            flush_pending_writes(ctx)
            # (a POST that only reads, e.g. a live count, marks its response kairan_read_only)
            read_only = getattr(response, "kairan_read_only", False)
            if in_admin and ctx.recorded == 0 and response.status_code < 400 and not read_only:
                if request.method in UNSAFE_METHODS:
                    record(action="kairan.admin.post", data={"status": response.status_code})
                elif request.GET.get("export") in EXPORT_FORMATS:
                    record(action="kairan.export", data={"format": request.GET["export"]})
        if is_staff_request or in_admin:
            record_access(request=request, status=response.status_code, started=started, now=time.monotonic())
