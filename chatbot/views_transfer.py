"""シナリオの取り込み・書き出し: scenario files (``chatbot.transfer``) in and out of the page tree.

書き出し downloads the chosen subtree (or siblings) as JSON, latest revisions included; 取り込み
creates a file's pages under a chosen parent, as drafts unless 「すぐに公開する」 (staff adapt
phone numbers and offices first); 「スターターパックを取り込む」 does the same with
``chatbot/starter/starter-pack.json``. Every imported page is logged by Wagtail's audit log
(mirrored into the operation log); the download logs itself as an export.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.views.generic import TemplateView
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin

from chatbot import transfer
from chatbot.forms import ExportForm, ImportForm
from chatbot.models import AnswerPage
from chatbot.views import HOME_CRUMB, can_use_pages, map_url
from kairan.manual.help import HelpLinkMixin

STARTER = Path(__file__).resolve().parent / "starter" / "starter-pack.json"
PROBLEMS_SHOWN = 20


def export_filename(pages: list[AnswerPage]) -> str:
    return f"scenario-{pages[0].slug}-{timezone.localdate():%Y%m%d}.json"


class TransferView(HelpLinkMixin, WagtailAdminTemplateMixin, TemplateView):
    """The two forms; POST is the import (a file, or the starter pack)."""

    template_name = "chatbot/transfer.html"
    page_title = "シナリオの取り込み・書き出し"
    header_icon = "download"
    help_page = "chatbot"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        if not can_use_pages(request.user):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def get_breadcrumbs_items(self) -> list[dict[str, str]]:
        return [HOME_CRUMB, {"url": "", "label": self.page_title}]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.setdefault("export_form", ExportForm(initial={"pages": self._initial_pages()}))
        context.setdefault("import_form", ImportForm())
        context["media"] = context["import_form"].media
        context["export_url"] = reverse("chatbot_admin:export")
        return context

    def _initial_pages(self) -> list[int]:
        return [int(pk) for pk in self.request.GET.getlist("pages") if pk.isdigit()]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        starter = "starter" in request.POST
        form = ImportForm(request.POST, request.FILES, starter=starter)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(import_form=form))
        parent = form.cleaned_data["parent"]
        publish = form.cleaned_data["publish"]
        rights = parent.permissions_for_user(request.user)
        if not rights.can_add_subpage() or (publish and not rights.can_publish_subpage()):
            form.add_error(
                "parent",
                "このページの下にページを作る権限がありません。"
                if not rights.can_add_subpage()
                else "このページの下のページを公開する権限がありません。「すぐに公開する」を外してください。",
            )
            return self.render_to_response(self.get_context_data(import_form=form))
        try:
            text = STARTER.read_bytes() if starter else form.cleaned_data["file"].read()
            document = transfer.parse(text)
            tops, problems = transfer.import_tree(
                document=document, parent=parent, publish=publish, user=request.user
            )
        except transfer.ScenarioFileError as error:
            form.add_error("file" if not starter else None, str(error))
            return self.render_to_response(self.get_context_data(import_form=form))
        except ValidationError as error:
            form.add_error(
                None, "取り込めませんでした（LINE で送れないページがあります）: " + " ".join(error.messages)
            )
            return self.render_to_response(self.get_context_data(import_form=form))
        count = sum(AnswerPage.objects.descendant_of(top, inclusive=True).count() for top in tops)
        what = "スターターパック" if starter else "シナリオ"
        how = (
            "公開しました"
            if publish
            else "下書きとして取り込みました。内容を市に合わせて直してから公開してください"
        )
        names = "、".join(f"「{top.title}」" for top in tops)
        messages.success(request, f"{what}の {count} ページ（{names}）を「{parent.title}」の下に{how}。")
        if problems:
            messages.warning(request, f"見つからなかった参照が {len(problems)} 件あります（空にしました）。")
            for problem in problems[:PROBLEMS_SHOWN]:
                messages.warning(request, problem)
            if len(problems) > PROBLEMS_SHOWN:
                messages.warning(request, f"ほか {len(problems) - PROBLEMS_SHOWN} 件")
        return HttpResponseRedirect(map_url(tops[0]))


def export(request: HttpRequest) -> HttpResponse:
    """GET ``?pages=<id>&pages=<id>``: the scenario file of those pages' subtrees."""
    from kairan.oplog.services import record

    if not can_use_pages(request.user):
        raise PermissionDenied
    form = ExportForm(request.GET)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
        return HttpResponseRedirect(reverse("chatbot_admin:transfer"))
    pages: list[AnswerPage] = form.cleaned_data["pages"]
    document = transfer.export_tree(pages)
    body = transfer.dumps(document)
    filename = export_filename(pages)
    count = sum(AnswerPage.objects.descendant_of(page, inclusive=True).count() for page in pages)
    record(
        action="kairan.export",
        request=request,
        object_label="チャットボットのシナリオ",
        data={"format": "json", "rows": count, "pages": [page.pk for page in pages], "file": filename},
    )
    response = HttpResponse(body.encode("utf-8"), content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response
