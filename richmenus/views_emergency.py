"""災害モード in the admin: one page to switch (its form is the confirmation: the admin menu's
「災害モード」 opens it, one more click switches) and to revert, with the progress and the history."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.views.generic import TemplateView
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin

from kairan.manual.help import HelpLinkMixin
from richmenus import emergency
from richmenus.models import EmergencySwitch, MenuSet

PERMISSION = "richmenus.switch_emergency"
HOME_CRUMB = WagtailAdminTemplateMixin.breadcrumbs_items[0]


class SwitchForm(forms.Form):
    menu_set = forms.ModelChoiceField(
        label="表示するメニューセット", queryset=MenuSet.objects.none(), empty_label=None
    )
    alert = forms.CharField(
        label="友だち全員に送るお知らせ（任意）",
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="切り替えと同時に、友だち全員に LINE で送ります。空欄なら送りません。",
    )
    pause_deliveries = forms.BooleanField(
        label="防災以外の予約配信・繰り返し配信を、解除まで止める", required=False, initial=True
    )
    starts_at = forms.DateTimeField(
        label="開始日時（予約するときだけ）",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="空欄なら、すぐに切り替えます。",
    )
    ends_at = forms.DateTimeField(
        label="終了日時（自動で解除するときだけ）",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="空欄なら、解除のボタンを押すまで続けます。",
    )
    rehearsal = forms.BooleanField(
        label="訓練（テスターの LINE だけを切り替える）",
        required=False,
        help_text="市民には何も変わりません。お知らせもテスターにだけ届きます。",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        ready = emergency.ready_sets()
        field = self.fields["menu_set"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = MenuSet.objects.filter(pk__in=[s.pk for s in ready])


class EmergencyView(HelpLinkMixin, WagtailAdminTemplateMixin, TemplateView):
    template_name = "richmenus/emergency.html"
    page_title = "災害モード"
    header_icon = "warning"
    help_page = "emergency"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        if not request.user.has_perm(PERMISSION):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def get_breadcrumbs_items(self) -> list[dict[str, str]]:
        return [HOME_CRUMB, {"url": "", "label": "災害モード"}]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["active"] = emergency.active()
        context["rehearsal"] = emergency.active(rehearsal=True)
        context.setdefault("form", SwitchForm())
        context["ready"] = emergency.ready_sets()
        context["history"] = EmergencySwitch.objects.select_related("menu_set")[:20]
        context["scheduled"] = EmergencySwitch.objects.filter(state=EmergencySwitch.State.SCHEDULED)
        context["requested"] = EmergencySwitch.objects.filter(state=EmergencySwitch.State.REQUESTED).first()
        context["working"] = any(
            s is not None and s.state in (EmergencySwitch.State.SWITCHING, EmergencySwitch.State.REVERTING)
            for s in (context["active"], context["rehearsal"])
        )
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        here = HttpResponseRedirect(reverse("richmenus_emergency:index"))
        if "approve" in request.POST:
            try:
                emergency.approve(user=request.user)
            except emergency.EmergencyError as error:
                messages.error(request, str(error))
            else:
                messages.success(request, "承認しました。災害モードに切り替えています。")
            return here
        if "withdraw" in request.POST:
            if emergency.withdraw(user=request.user):
                messages.success(request, "承認を待っていた切替を取り下げました。")
            return here
        if "cancel" in request.POST:
            if emergency.cancel_scheduled(user=request.user, rehearsal=request.POST["cancel"] == "rehearsal"):
                messages.success(request, "予約した切替を取り消しました。")
            return here
        if "revert" in request.POST:
            try:
                emergency.switch_off(user=request.user, rehearsal=request.POST["revert"] == "rehearsal")
            except emergency.EmergencyError as error:
                messages.error(request, str(error))
            else:
                messages.success(request, "解除を始めました。数秒で元のメニューに戻ります。")
            return here
        form = SwitchForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                emergency.switch_on(
                    menu_set=data["menu_set"],
                    user=request.user,
                    rehearsal=data["rehearsal"],
                    pause_deliveries=data["pause_deliveries"],
                    alert=data["alert"],
                    starts_at=data["starts_at"],
                    ends_at=data["ends_at"],
                )
            except emergency.EmergencyError as error:
                form.add_error(None, str(error))
            else:
                what = "災害モード訓練" if data["rehearsal"] else "災害モード"
                if EmergencySwitch.objects.filter(
                    state=EmergencySwitch.State.REQUESTED, requested_by=request.user.pk
                ).exists():
                    messages.success(request, "切替を求めました。ほかの職員が承認すると切り替わります。")
                elif data["starts_at"] and data["starts_at"] > timezone.now():
                    when = timezone.localtime(data["starts_at"])
                    messages.success(request, f"{what}への切替を {when:%Y-%m-%d %H:%M} に予約しました。")
                else:
                    messages.success(request, f"{what}に切り替えています。進み具合はこのページに出ます。")
                return here
        return self.render_to_response(self.get_context_data(form=form))
