"""Staff screens about one resident (市民の情報), for staff with 「市民の個人情報の閲覧」.

- ``SearchView``: find a resident by the お問い合わせ番号 they read from My Page.
- ``DetailView``: the friend, 受信設定 (staff-only items too), its history, agreements to the
  terms, form answers. Every view is written to the operation log.
- ``export``: the same as a JSON file for a disclosure request (logged).
- ``EditView``: staff change the 受信設定 (e.g. asked by phone), staff-only items included;
  needs 「受信設定の変更」 too. The history says which staff member changed what.
- ``WithdrawView``: delete the resident's registration on request; needs 「受信設定の削除」.

Views are thin: reading is ``residents.records``, writing is ``residents.services``.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.views.generic import TemplateView
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin

from home.forms.builder import KairanForm, KairanFormBuilder
from kairan.manual.help import HelpLinkMixin
from kairan.oplog.services import record, record_personal_view
from residents import records
from residents.models import AttributeFormPage
from residents.services import current_answers, save_attributes, withdraw

VIEW_PERMISSION = "residents.view_personal_data"
CHANGE_PERMISSION = "residents.change_residentattributes"
DELETE_PERMISSION = "residents.delete_residentattributes"
TITLE = "市民の情報"
HOME_CRUMB = WagtailAdminTemplateMixin.breadcrumbs_items[0]


def can_view(user: Any) -> bool:
    return bool(user.has_perm(VIEW_PERMISSION))


class ResidentView(HelpLinkMixin, WagtailAdminTemplateMixin, TemplateView):
    """Base: the permission check, the breadcrumbs, and the resident (``self.record``) the URL names."""

    header_icon = "user"
    page_title = TITLE
    help_page = "privacy"
    permissions: tuple[str, ...] = (VIEW_PERMISSION,)
    record: records.ResidentRecord | None = None

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        if not all(request.user.has_perm(p) for p in self.permissions):
            raise PermissionDenied
        if "key" in kwargs:
            self.record = records.resident_record(kwargs["key"])
            if self.record is None:
                raise Http404("この市民の情報はありません（削除されたか、番号が違います）。")
        return super().dispatch(request, *args, **kwargs)

    def get_breadcrumbs_items(self) -> list[dict[str, Any]]:
        items = [HOME_CRUMB, {"url": reverse("residents_admin:search"), "label": TITLE}]
        if self.record is not None:
            items.append(
                {
                    "url": reverse("residents_admin:detail", args=[self.record.hash]),
                    "label": self.record.number,
                }
            )
        return items

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(record=self.record, **kwargs)


class SearchView(ResidentView):
    template_name = "residents/admin/search.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        number = request.GET.get("number", "").strip()[:40]
        if number:
            key = records.hash_for_number(number)
            if key is not None:
                return HttpResponseRedirect(reverse("residents_admin:detail", args=[key]))
            messages.error(
                request, f"お問い合わせ番号「{number}」の市民は見つかりません。番号を確かめてください。"
            )
        return self.render_to_response(self.get_context_data(number=number))


class DetailView(ResidentView):
    template_name = "residents/admin/detail.html"

    def get_page_title(self) -> str:
        return f"{TITLE}（{self.record.number}）" if self.record else TITLE

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        assert self.record is not None
        record_personal_view(request=request, label=TITLE, object_id=self.record.number)
        user = request.user
        return self.render_to_response(
            self.get_context_data(
                can_change=user.has_perm(CHANGE_PERMISSION) and bool(self.record.line_user_id),
                can_withdraw=user.has_perm(DELETE_PERMISSION) and bool(self.record.line_user_id),
                settings_page=AttributeFormPage.objects.first(),
            )
        )


def export(request: HttpRequest, key: str) -> HttpResponse:
    """The resident's data as a JSON file (UTF-8), for a disclosure request."""
    if not can_view(request.user):
        raise PermissionDenied
    resident = records.resident_record(key)
    if resident is None:
        raise Http404("この市民の情報はありません。")
    document = records.disclosure(resident, exported_by=request.user.get_username())
    record(
        action="kairan.personal.export",
        request=request,
        object_type="residents.personal",
        object_id=resident.number,
        object_label=TITLE,
        data={"format": "json"},
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = HttpResponse(
        json.dumps(document, ensure_ascii=False, indent=2), content_type="application/json; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="resident-{resident.number}-{stamp}.json"'
    return response


def staff_form_class(page: AttributeFormPage) -> type[KairanForm]:
    """The 受信設定 form with every item, staff-only ones included."""
    specs = page.field_specs()
    return KairanFormBuilder([s for s in specs if s.is_answer], all_specs=specs).get_form_class()


class EditView(ResidentView):
    template_name = "residents/admin/edit.html"
    permissions = (VIEW_PERMISSION, CHANGE_PERMISSION)

    def get_page_title(self) -> str:
        return "受信設定の変更（職員）"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        self.page = AttributeFormPage.objects.first()
        if self.page is None:
            raise Http404("受信設定フォームがありません。")
        return super().dispatch(request, *args, **kwargs)

    def _form(self) -> KairanForm:
        assert self.record is not None and self.page is not None
        form_class = staff_form_class(self.page)
        if self.request.method == "POST":
            return form_class(self.request.POST, self.request.FILES)
        return form_class(initial=current_answers(self.record.line_user_id))

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if self.record is None or not self.record.line_user_id:
            raise Http404
        record_personal_view(request=request, label="受信設定の変更（職員）", object_id=self.record.number)
        return self.render_to_response(self.get_context_data(form=self._form()))

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        assert self.page is not None
        if self.record is None or not self.record.line_user_id:
            raise Http404
        form = self._form()
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(form=form), status=400)
        answers = self.page.answers_after(
            form=form,
            current=current_answers(self.record.line_user_id),
            shown={spec.clean_name for spec in self.page.get_form_fields()},
        )
        save_attributes(
            page=self.page,
            line_user_id=self.record.line_user_id,
            answers=answers,
            actor=f"staff:{request.user.pk}",
        )
        messages.success(request, "受信設定を変更しました。")
        return HttpResponseRedirect(reverse("residents_admin:detail", args=[self.record.hash]))


class WithdrawView(ResidentView):
    template_name = "residents/admin/withdraw.html"
    permissions = (VIEW_PERMISSION, DELETE_PERMISSION)

    def get_page_title(self) -> str:
        return "利用登録の削除"

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if self.record is None or not self.record.line_user_id:
            raise Http404
        withdraw(line_user_id=self.record.line_user_id, actor=f"staff:{request.user.pk}")
        messages.success(request, f"お問い合わせ番号 {self.record.number} の市民の利用登録を削除しました。")
        return HttpResponseRedirect(reverse("residents_admin:search"))
