"""The talk screen of an answer page's latest revision (a draft too), as LINE would show it; its
buttons lead to the previews of the pages they open, so staff can walk a draft scenario."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.urls import reverse
from django.views.generic import TemplateView
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin

from chatbot.actions import parse_postback
from chatbot.line_messages import choices
from chatbot.views import HOME_CRUMB, answer_page_or_404, can_use_pages, map_url, state_label
from kairan.manual.help import HelpLinkMixin


class PreviewView(HelpLinkMixin, WagtailAdminTemplateMixin, TemplateView):
    """The talk screen of a page's latest revision (a draft too), its choices leading to theirs."""

    template_name = "chatbot/preview.html"
    page_title = "トーク画面のプレビュー"
    header_icon = "mobile-alt"
    help_page = "chatbot"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        if not can_use_pages(request.user):
            raise PermissionDenied
        self.page = answer_page_or_404(kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    def get_page_subtitle(self) -> str:
        return str(self.page.get_admin_display_title())

    def get_breadcrumbs_items(self) -> list[dict[str, str]]:
        return [
            HOME_CRUMB,
            {"url": map_url(self.page), "label": "シナリオマップ"},
            {"url": "", "label": f"プレビュー: {self.page.get_admin_display_title()}"},
        ]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        from chatbot.preview import preview_context

        context = super().get_context_data(**kwargs)
        shown = self.page.get_latest_revision_as_object()
        context.update(preview_context(shown))
        for quick in context["talk_preview"]["quick_replies"]:
            quick["href"] = self._href(quick.get("action")) or quick.get("href")
        context["page"] = self.page
        context["shown"] = shown
        context["state"] = state_label(self.page)
        context["choices"] = [
            {"label": choice.label, "href": self._href(choice.action)}
            for choice in choices(shown, draft=True)
        ]
        context["can_edit"] = self.page.permissions_for_user(self.request.user).can_edit()
        context["here"] = self.request.get_full_path()
        return context

    @staticmethod
    def _href(action: Any) -> str | None:
        """Postbacks naming a page lead to that page's preview; links keep their address."""
        if not isinstance(action, dict):
            return None
        if action.get("type") == "uri":
            return str(action.get("uri") or "") or None
        parsed = parse_postback(str(action.get("data") or ""))
        return reverse("chatbot_admin:preview", args=[parsed[0]]) if parsed else None
