"""My Page (マイページ): the resident's own page inside LINE, the LIFF app's endpoint ``/liff/``.

Every view here is ``liff_login_required`` and reads who the resident is from the
session's verified LINE identity only (``current_line_user``); nothing a request
carries (a user id, a hash, a number) ever chooses whose data is shown or changed.

- ``mypage``: the first visit (and after the terms change) shows the purpose notice and
  asks for agreement to the terms of use and privacy policy; afterwards the resident's
  受信設定, their agreement, and the ways to change, delete or leave.
- ``agree``: records the agreement to the version in force, then goes on to where the
  resident was heading (the 受信設定 form the first time).
- ``terms``: the full text of the version in force.
- ``delete_settings``: deletes the 受信設定 after a confirmation.
- ``withdraw``: deletes everything tied to the resident after a confirmation.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_safe

from line_channel.liff import current_line_user, liff_login_required, render_liff
from line_channel.models import Follower
from residents.attributes import describe
from residents.consent import TERMS_CHANGED, TermsChanged, consent_status, resident_number
from residents.consent import agree as record_agreement
from residents.models import AttributeFormPage, TermsVersion
from residents.services import current_answers, delete_attributes
from residents.services import withdraw as withdraw_resident

AGREE_FIELD = "agree"
AGREE_ERROR = "同意いただける場合は、チェックを入れてから「同意して進む」を押してください。"


def _resident(request: HttpRequest) -> str:
    user_id = current_line_user(request)
    assert user_id is not None, "liff_login_required lets only identified residents through"
    return user_id


def settings_page() -> AttributeFormPage | None:
    return AttributeFormPage.objects.live().first()


def settings_url(page: AttributeFormPage) -> str:
    """The 受信設定 form as opened inside LINE (``/liff/<page path>``)."""
    return reverse("liff_site_page", args=[(page.url or "/").lstrip("/")])


def _next_url(request: HttpRequest, candidate: str) -> str:
    """Where to go after agreeing: a LIFF page of this site, never elsewhere."""
    safe = url_has_allowed_host_and_scheme(candidate, allowed_hosts={request.get_host()})
    return candidate if candidate and safe and candidate.startswith("/liff/") else ""


def _base_context(request: HttpRequest, user_id: str) -> dict[str, Any]:
    follower = Follower.objects.filter(line_user_id=user_id).first()
    return {
        "follower": follower,
        "following": follower is not None and follower.status == Follower.Status.FOLLOWING,
        "resident_number": resident_number(user_id),
    }


def _consent_page(request: HttpRequest, user_id: str, *, next_url: str = "", error: str = "") -> HttpResponse:
    """The agreement screen; with ``error`` when the resident must look again (a page like any form
    with a mistake in it, so 200)."""
    context = _base_context(request, user_id) | {
        "consent": consent_status(user_id),
        "next": next_url,
        "error": error,
        "agree_field": AGREE_FIELD,
    }
    return render_liff(request, "residents/mypage_consent.html", context)


@require_safe
@liff_login_required
def mypage(request: HttpRequest) -> HttpResponse:
    user_id = _resident(request)
    status = consent_status(user_id)
    if status.needs_agreement:
        return _consent_page(request, user_id, next_url=_next_url(request, request.GET.get("next", "")))
    page = settings_page()
    answers = current_answers(user_id)
    context = _base_context(request, user_id) | {
        "consent": status,
        "settings_page": page,
        "settings_url": settings_url(page) if page else "",
        "lines": describe(answers) if answers else [],
        "registered": bool(answers),
    }
    return render_liff(request, "residents/mypage.html", context)


@require_http_methods(["GET", "HEAD", "POST"])
@liff_login_required
def agree(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        # After an identity that expired while the resident read the terms, liff.js loads this
        # URL again with GET: back to the agreement screen.
        return HttpResponseRedirect(reverse("mypage"))
    user_id = _resident(request)
    next_url = _next_url(request, request.POST.get("next", ""))
    posted = request.POST.get("terms", "")
    terms = TermsVersion.objects.filter(pk=int(posted)).first() if posted.isdigit() else None
    if request.POST.get(AGREE_FIELD) != "yes":
        return _consent_page(request, user_id, next_url=next_url, error=AGREE_ERROR)
    if terms is None:
        return _consent_page(request, user_id, next_url=next_url, error=TERMS_CHANGED)
    try:
        record_agreement(line_user_id=user_id, terms=terms)
    except TermsChanged as changed:
        return _consent_page(request, user_id, next_url=next_url, error=str(changed))
    if not next_url:
        page = settings_page()
        next_url = settings_url(page) if page and not current_answers(user_id) else reverse("mypage")
    return HttpResponseRedirect(next_url)


@require_safe
@liff_login_required
def terms(request: HttpRequest) -> HttpResponse:
    user_id = _resident(request)
    context = _base_context(request, user_id) | {"consent": consent_status(user_id)}
    return render_liff(request, "residents/mypage_terms.html", context)


@require_http_methods(["GET", "HEAD", "POST"])
@liff_login_required
def delete_settings(request: HttpRequest) -> HttpResponse:
    user_id = _resident(request)
    if request.method == "POST":
        if delete_attributes(line_user_id=user_id, actor="resident"):
            messages.success(request, "受信設定を削除しました。")
        return HttpResponseRedirect(reverse("mypage"))
    context = _base_context(request, user_id) | {"lines": describe(current_answers(user_id))}
    return render_liff(request, "residents/mypage_delete.html", context)


@require_http_methods(["GET", "HEAD", "POST"])
@liff_login_required
def withdraw(request: HttpRequest) -> HttpResponse:
    user_id = _resident(request)
    context = _base_context(request, user_id)
    if request.method == "POST":
        withdraw_resident(line_user_id=user_id, actor="resident")
        return render_liff(request, "residents/mypage_withdrawn.html", context)
    return render_liff(request, "residents/mypage_withdraw.html", context)
