"""The manual's screens: inside the admin (every staff role) and the public login help."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.generic import TemplateView
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin

from kairan.manual import pages
from kairan.manual.search import search, terms_of

MANUAL = "マニュアル"
HOME_CRUMB = WagtailAdminTemplateMixin.breadcrumbs_items[0]  # Wagtail's own ホーム item


def _page_or_404(slug: str, *, public_only: bool = False) -> pages.ManualPage:
    page = pages.get_page(slug)
    if page is None or (public_only and not page.public):
        raise Http404("マニュアルのページが見つかりません。")
    return page


class ManualView(WagtailAdminTemplateMixin, TemplateView):
    header_icon = "help"
    page_title = MANUAL

    def get_breadcrumbs_items(self) -> list[dict[str, Any]]:
        return [HOME_CRUMB, {"url": reverse("kairan_manual:index"), "label": MANUAL}]


class IndexView(ManualView):
    template_name = "manual/index.html"

    def get_breadcrumbs_items(self) -> list[dict[str, Any]]:
        return [HOME_CRUMB, {"url": "", "label": MANUAL}]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(pages=pages.all_pages(), **kwargs)


class PageView(ManualView):
    template_name = "manual/page.html"

    def setup(self, request: HttpRequest, *args: Any, **kwargs: Any) -> None:
        super().setup(request, *args, **kwargs)
        self.manual_page = _page_or_404(kwargs["slug"])

    def get_page_title(self) -> str:
        return self.manual_page.title

    def get_breadcrumbs_items(self) -> list[dict[str, Any]]:
        return [*super().get_breadcrumbs_items(), {"url": "", "label": self.manual_page.title}]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        previous, following = pages.neighbours(self.manual_page)
        return super().get_context_data(
            manual_page=self.manual_page, previous_page=previous, next_page=following, **kwargs
        )


class SearchView(ManualView):
    template_name = "manual/search.html"

    def get_page_title(self) -> str:
        return "マニュアルの検索"

    def get_breadcrumbs_items(self) -> list[dict[str, Any]]:
        return [*super().get_breadcrumbs_items(), {"url": "", "label": "検索"}]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        query = self.request.GET.get("q", "").strip()[:200]
        has_terms = bool(terms_of(query))
        return super().get_context_data(
            query=query, has_terms=has_terms, results=search(query) if has_terms else [], **kwargs
        )


def public_page(request: HttpRequest, slug: str) -> HttpResponse:
    """A page marked ``public: yes``, readable before logging in (linked from the login screens)."""
    page = _page_or_404(slug, public_only=True)
    return TemplateResponse(request, "manual/public_page.html", {"manual_page": page})
