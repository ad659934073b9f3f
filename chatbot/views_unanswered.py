"""未回答の質問: the questions the bot could not answer, most asked first, and what staff do with
them: write an answer page (one step: a draft under the top page, the question as its title and
phrasing, then the editor), mark one answered by an existing page, or delete it.

The question's words are shown only where they were kept (``keep_unanswered_text``, off by
default) and only to staff holding ``chatbot.view_unanswered_text``; the others see that the words
are not shown, and a page made by them starts as 「新しい回答」.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import django_filters
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.http import require_POST
from django.views.generic import TemplateView
from wagtail.admin.filters import WagtailFilterSet
from wagtail.admin.ui.tables import BaseColumn, Column
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin
from wagtail.admin.views.reports.base import ReportView
from wagtail.log_actions import log
from wagtail.models import Page
from wagtail.permission_policies import ModelPermissionPolicy

from chatbot.forms import AnswerPageChoiceForm, ParentChoiceForm
from chatbot.models import AnswerPage, ChatbotSettings, UnansweredQuestion
from chatbot.views import HOME_CRUMB
from kairan.core.export_views import SpreadsheetExportViewMixin
from kairan.manual.help import HelpLinkMixin

VIEW = "chatbot.view_unansweredquestion"
CHANGE = "chatbot.change_unansweredquestion"
DELETE = "chatbot.delete_unansweredquestion"
VIEW_TEXT = "chatbot.view_unanswered_text"
NOT_KEPT = "（文は保存していません）"
HIDDEN = "（文を見る権限がありません）"
NEW_TITLE = "新しい回答"
PLACEHOLDER = "（ここに回答を書いてください）"
SLUG_MAX = 50


def shown_text(question: UnansweredQuestion, user: Any) -> str:
    if not question.text:
        return NOT_KEPT
    return question.text if user.has_perm(VIEW_TEXT) else HIDDEN


def local_time(value: Any) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


class StateFilter(django_filters.ChoiceFilter):
    def filter(self, qs: QuerySet[Any], value: Any) -> QuerySet[Any]:
        if value == "open":
            return qs.filter(answer__isnull=True)
        if value == "done":
            return qs.filter(answer__isnull=False)
        return qs


class UnansweredFilterSet(WagtailFilterSet):
    state = StateFilter(
        label="状態", choices=[("open", "未対応"), ("done", "対応済み")], empty_label="すべて"
    )

    class Meta:
        model = UnansweredQuestion
        fields: list[str] = []


class ActionsColumn(BaseColumn):
    """The row's buttons: 回答ページを作る (a POST), 対応済みにする, 削除."""

    cell_template_name = "chatbot/unanswered_actions.html"

    class Media:
        css = {"all": ["chatbot/chatbot-admin.css"]}

    def get_cell_context_data(self, instance: Any, parent_context: Any) -> dict[str, Any]:
        context: dict[str, Any] = super().get_cell_context_data(instance, parent_context)
        request = parent_context.get("request")
        user = request.user if request is not None else None
        context.update(
            csrf_token=get_token(request) if request is not None else "",
            create_url=reverse("chatbot_admin:unanswered_answer", args=[instance.pk]),
            choose_url=reverse("chatbot_admin:unanswered_parent", args=[instance.pk]),
            resolve_url=reverse("chatbot_admin:unanswered_resolve", args=[instance.pk]),
            delete_url=reverse("chatbot_admin:unanswered_delete", args=[instance.pk]),
            can_change=bool(user and user.has_perm(CHANGE)),
            can_delete=bool(user and user.has_perm(DELETE)),
        )
        return context


def _answer_title(question: UnansweredQuestion) -> str:
    return question.answer.get_admin_display_title() if question.answer_id and question.answer else ""


class UnansweredView(HelpLinkMixin, SpreadsheetExportViewMixin, ReportView):
    page_title = "未回答の質問"
    header_icon = "help"
    help_page = "chatbot-free-text"
    index_url_name = "chatbot_admin:unanswered"
    index_results_url_name = "chatbot_admin:unanswered_results"
    filterset_class = UnansweredFilterSet
    permission_policy = ModelPermissionPolicy(UnansweredQuestion)
    permission_required = "view"
    paginate_by = 50
    export_name = "未回答の質問"
    export_filename_stem = "unanswered-questions"
    columns = [
        Column("shown_text", label="質問"),
        Column("count", label="件数"),
        Column("first", label="最初", accessor=lambda q: local_time(q.first_asked_at)),
        Column("last", label="最新", accessor=lambda q: local_time(q.last_asked_at)),
        Column("answer", label="作成した回答", accessor=_answer_title),
        ActionsColumn("actions", label="操作"),
    ]

    @property
    def export_columns(self) -> Sequence[tuple[str, Callable[[Any], Any]]]:  # type: ignore[override]
        user = self.request.user
        return (
            ("質問", lambda q: shown_text(q, user)),
            ("件数", lambda q: q.count),
            ("最初", lambda q: local_time(q.first_asked_at)),
            ("最新", lambda q: local_time(q.last_asked_at)),
            ("作成した回答", _answer_title),
        )

    def get_queryset(self) -> QuerySet[UnansweredQuestion]:
        return UnansweredQuestion.objects.select_related("answer").order_by("-count", "-last_asked_at", "pk")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        # (the table holds these same rows: the page of the queryset, evaluated once)
        for row in context.get("object_list") or []:
            row.shown_text = shown_text(row, self.request.user)
        return context


# --- the actions ---------------------------------------------------------------------------------------


def _question(request: HttpRequest, pk: int, permission: str) -> UnansweredQuestion:
    if not request.user.has_perm(permission):
        raise PermissionDenied
    return get_object_or_404(UnansweredQuestion, pk=pk)


def _free_slug(parent: Page, title: str) -> str:
    base = slugify(title, allow_unicode=True)[:SLUG_MAX].strip("-") or "answer"
    taken = set(parent.get_children().values_list("slug", flat=True))
    slug, number = base, 2
    while slug in taken:
        slug, number = f"{base}-{number}", number + 1
    return slug


@transaction.atomic
def create_answer_page(*, question: UnansweredQuestion, parent: Page, user: Any) -> AnswerPage:
    """A draft answer page for ``question`` under ``parent``, linked to the question."""
    text = question.text.strip() if question.text and user.has_perm(VIEW_TEXT) else ""
    title = " ".join(text.split())[:255] or NEW_TITLE
    page = AnswerPage(
        title=title,
        slug=_free_slug(parent, title),
        phrasings=text,
        body=[{"type": "text", "value": PLACEHOLDER}],
        live=False,
        owner=user,
    )
    parent.add_child(instance=page)
    revision = page.save_revision(user=user, log_action=False)
    log(instance=page, action="wagtail.create", user=user, revision=revision, content_changed=True)
    question.answer = page
    question.save(update_fields=["answer"])
    return page


def _create(request: HttpRequest, question: UnansweredQuestion, parent: Page) -> HttpResponse:
    if not parent.permissions_for_user(request.user).can_add_subpage():
        raise PermissionDenied
    if not AnswerPage.can_create_at(parent.specific):
        messages.error(
            request,
            f"「{parent.title}」の下には回答ページを作れません。"
            "チャットボットの設定で「最初のページ」を選ぶか、「場所を選んで作る」で場所を選んでください。",
        )
        return HttpResponseRedirect(reverse("chatbot_admin:unanswered"))
    page = create_answer_page(question=question, parent=parent, user=request.user)
    messages.success(
        request, f"回答ページ「{page.title}」を下書きで作りました。回答を書いて、公開してください。"
    )
    return HttpResponseRedirect(reverse("wagtailadmin_pages:edit", args=[page.pk]))


@require_POST
def create_answer(request: HttpRequest, pk: int) -> HttpResponse:
    """回答ページを作る: one step, under the top page (or the site's root page when none is set)."""
    from chatbot.forms import default_parent

    question = _question(request, pk, VIEW)
    parent = ChatbotSettings.load().top_page or default_parent()
    if parent is None:
        messages.error(
            request,
            "回答ページを作る場所がありません。チャットボットの設定で「最初のページ」を選んでください。",
        )
        return HttpResponseRedirect(reverse("chatbot_admin:unanswered"))
    return _create(request, question, parent)


class _QuestionFormView(HelpLinkMixin, WagtailAdminTemplateMixin, TemplateView):
    template_name = "chatbot/unanswered_form.html"
    header_icon = "help"
    help_page = "chatbot-free-text"
    permission = VIEW
    submit_label = ""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        self.question = _question(request, kwargs["pk"], self.permission)
        return super().dispatch(request, *args, **kwargs)

    def get_breadcrumbs_items(self) -> list[dict[str, str]]:
        return [
            HOME_CRUMB,
            {"url": reverse("chatbot_admin:unanswered"), "label": "未回答の質問"},
            {"url": "", "label": self.page_title},
        ]

    def form(self, data: Any = None) -> Any:
        """The view's form (None: a confirmation only)."""
        return None

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.setdefault("form", self.form())
        context["question"] = self.question
        context["question_text"] = shown_text(self.question, self.request.user)
        context["submit_label"] = self.submit_label
        context["back_url"] = reverse("chatbot_admin:unanswered")
        return context


class ChooseParentView(_QuestionFormView):
    """回答ページを作る (場所を選ぶ): the same, under a parent page the staff member chooses."""

    page_title = "場所を選んで回答ページを作る"
    submit_label = "回答ページを作る"

    def form(self, data: Any = None) -> ParentChoiceForm:
        initial = {"parent": ChatbotSettings.load().top_page_id}
        return ParentChoiceForm(data, initial=initial)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = self.form(request.POST)
        if form.is_valid():
            return _create(request, self.question, form.cleaned_data["parent"])
        return self.render_to_response(self.get_context_data(form=form))


class ResolveView(_QuestionFormView):
    """対応済みにする: the answer page that answers the question now (a page the staff member
    improved, e.g. with a new phrasing)."""

    page_title = "対応済みにする"
    submit_label = "対応済みにする"
    permission = CHANGE

    def form(self, data: Any = None) -> AnswerPageChoiceForm:
        return AnswerPageChoiceForm(data, initial={"page": self.question.answer_id})

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = self.form(request.POST)
        if form.is_valid():
            self.question.answer = form.cleaned_data["page"]
            self.question.save(update_fields=["answer"])
            messages.success(request, f"対応済みにしました（回答: 「{self.question.answer.title}」）。")
            return HttpResponseRedirect(reverse("chatbot_admin:unanswered"))
        return self.render_to_response(self.get_context_data(form=form))


class DeleteView(_QuestionFormView):
    """削除: the question and its count (it counts again from 1 if asked again)."""

    page_title = "未回答の質問の削除"
    submit_label = "削除する"
    permission = DELETE

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["confirm_delete"] = True
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.question.delete()
        messages.success(request, "未回答の質問を削除しました。")
        return HttpResponseRedirect(reverse("chatbot_admin:unanswered"))
