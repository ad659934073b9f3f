"""Admin actions around the delivery editor: the test send, and the テスター screen."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.http import require_POST
from django.views.generic import TemplateView
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin

from deliveries import services
from deliveries.models import Delivery, Tester
from kairan.manual.help import HelpLinkMixin

CHANGE = "deliveries.change_delivery"
HOME_CRUMB = WagtailAdminTemplateMixin.breadcrumbs_items[0]


@require_POST
def send_test(request: HttpRequest, pk: int) -> HttpResponse:
    """テスト配信 (posted by the editor's 「テスターに送る」 button with the edit form's token)."""
    if not request.user.has_perm(CHANGE):
        raise PermissionDenied
    delivery = get_object_or_404(Delivery, pk=pk)
    try:
        run = services.send_test(delivery=delivery, user=request.user)
    except services.DeliveryError as error:
        messages.error(request, str(error))
        return HttpResponseRedirect(reverse("wagtailsnippets_deliveries_delivery:edit", args=[pk]))
    messages.success(
        request, f"テスター {run.target_count} 人にテスト配信しました。受け取った人を確かめてください。"
    )
    return HttpResponseRedirect(reverse("deliveries_history:detail", args=[run.pk]))


class TesterForm(forms.Form):
    number = forms.CharField(
        label="お問い合わせ番号",
        max_length=64,
        help_text="テスターにする職員が、自分の LINE で市のアカウントのマイページを開くと出る番号です。",
    )
    label = forms.CharField(
        label="名前（職員向け）", max_length=100, help_text="例: 防災課 大船渡（個人のスマホ）"
    )


class TestersView(HelpLinkMixin, WagtailAdminTemplateMixin, TemplateView):
    """テスター: the friends who receive test sends; add by お問い合わせ番号, remove."""

    template_name = "deliveries/testers.html"
    page_title = "テスター"
    header_icon = "user"
    help_page = "delivery-test"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        if not request.user.has_perm(CHANGE):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def get_breadcrumbs_items(self) -> list[dict[str, str]]:
        return [HOME_CRUMB, {"url": "", "label": "テスター"}]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.setdefault("form", TesterForm())
        context["testers"] = services.testers()
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if "remove" in request.POST:
            tester = Tester.objects.filter(pk=int(request.POST.get("remove") or 0)).first()
            if tester is not None:
                services.remove_tester(tester=tester)
                messages.success(request, f"「{tester.label}」をテスターから外しました。")
            return HttpResponseRedirect(reverse("deliveries_testers:index"))
        form = TesterForm(request.POST)
        if form.is_valid():
            try:
                tester = services.add_tester(
                    number=form.cleaned_data["number"], label=form.cleaned_data["label"], user=request.user
                )
            except services.DeliveryError as error:
                form.add_error("number", str(error))
            else:
                messages.success(request, f"「{tester.label}」をテスターにしました。")
                return HttpResponseRedirect(reverse("deliveries_testers:index"))
        return self.render_to_response(self.get_context_data(form=form))
