from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from kairan.staff import services
from kairan.staff.forms import TokenForm
from kairan.staff.roles import is_system_admin

WRONG = "認証コードが正しくありません。認証アプリの最新のコードを入力してください。"
THROTTLED = "認証コードの誤りが続いたため、しばらく入力できません。少し待ってから入力してください。"


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("wagtailadmin_home")


def _require_login(request: HttpRequest) -> HttpResponse | None:
    if not request.user.is_authenticated:
        return redirect(f"{reverse('wagtailadmin_login')}?next={request.path}")
    return None


def _error_for(outcome: services.Outcome) -> str:
    return THROTTLED if outcome is services.Outcome.THROTTLED else WRONG


def mfa_verify(request: HttpRequest) -> HttpResponse:
    if (response := _require_login(request)) is not None:
        return response
    if services.confirmed_totp_device(user=request.user) is None:
        return redirect(f"{reverse('kairan_mfa_setup')}?next={_next_url(request)}")
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        outcome = services.verify_totp(request=request, token=form.cleaned_data["token"])
        if outcome is services.Outcome.OK:
            return HttpResponseRedirect(_next_url(request))
        form.add_error("token", _error_for(outcome))
    return TemplateResponse(request, "staff/mfa_verify.html", {"form": form, "next": _next_url(request)})


def mfa_setup(request: HttpRequest) -> HttpResponse:
    if (response := _require_login(request)) is not None:
        return response
    if services.confirmed_totp_device(user=request.user) is not None and not request.user.is_verified():  # type: ignore[union-attr]
        # Replacing an authenticator needs the current one first.
        return redirect(f"{reverse('kairan_mfa_verify')}?next={request.path}")
    device = services.start_totp_enrollment(user=request.user)
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        outcome = services.confirm_totp_enrollment(
            request=request, device=device, token=form.cleaned_data["token"]
        )
        if outcome is services.Outcome.OK:
            messages.success(
                request, "二要素認証を設定しました。次回からログイン時に認証コードを入力します。"
            )
            return HttpResponseRedirect(_next_url(request))
        form.add_error("token", _error_for(outcome))
    context = {
        "form": form,
        "next": _next_url(request),
        "qr_svg": services.qr_svg(device),
        "secret": services.secret_for_display(device),
    }
    return TemplateResponse(request, "staff/mfa_setup.html", context)


def mfa_reset(request: HttpRequest, user_id: int) -> HttpResponse:
    if not is_system_admin(request.user):
        raise PermissionDenied
    target = get_object_or_404(User, pk=user_id)
    if request.method == "POST":
        count = services.reset_mfa(request=request, user=target)
        messages.success(
            request, f"{target.get_username()} さんの二要素認証をリセットしました（{count}件）。"
        )
        return redirect("wagtailusers_users:edit", target.pk)
    return TemplateResponse(request, "staff/mfa_reset.html", {"target": target})
