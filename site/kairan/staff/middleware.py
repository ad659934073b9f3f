"""Staff session rules: idle timeout and two-factor authentication before the admin."""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import Resolver404, resolve, reverse

from kairan.oplog.services import record
from kairan.staff.roles import mfa_required

LAST_ACTIVITY_KEY = "kairan_last_activity"

# Views a signed-in person may reach before the second factor is checked.
MFA_EXEMPT_VIEWS = {
    "wagtailadmin_login",
    "wagtailadmin_logout",
    "wagtailadmin_javascript_catalog",
    "wagtailadmin_sprite",  # the icon sprite that admin_base.html fetches on every page
    "kairan_mfa_verify",
    "kairan_mfa_setup",
}
# Requests the admin's own JavaScript makes in the background; they do not count
# as the person being active.
BACKGROUND_NAMESPACES = {"wagtailadmin_editing_sessions"}


def _view_name(request: HttpRequest) -> tuple[str, str]:
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return "", ""
    return match.url_name or "", match.namespace or ""


class StaffSessionMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.admin_prefix = reverse("wagtailadmin_home")

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return self.get_response(request)

        url_name, namespace = _view_name(request)
        now = time.time()
        last = request.session.get(LAST_ACTIVITY_KEY)
        if last is not None and now - float(last) > settings.KAIRAN_IDLE_TIMEOUT_MINUTES * 60:
            record(action="kairan.session_timeout", user=user, request=request)
            logout(request)
            login_url = reverse("wagtailadmin_login")
            return HttpResponseRedirect(f"{login_url}?{urlencode({'timeout': '1', 'next': request.path})}")
        if namespace not in BACKGROUND_NAMESPACES:
            request.session[LAST_ACTIVITY_KEY] = now

        needs_check = request.path.startswith(self.admin_prefix) and url_name not in MFA_EXEMPT_VIEWS
        if needs_check and not user.is_verified():
            from django_otp import devices_for_user

            has_device = any(True for _ in devices_for_user(user, confirmed=True))
            if has_device or mfa_required(user):
                target = "kairan_mfa_verify" if has_device else "kairan_mfa_setup"
                query = urlencode({"next": request.get_full_path()})
                return HttpResponseRedirect(f"{reverse(target)}?{query}")
        return self.get_response(request)
