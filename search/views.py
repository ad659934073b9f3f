from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from wagtail.models import Page


def search(request: HttpRequest) -> HttpResponse:
    """Search over published pages of the site (the Japanese index comes with the chatbot)."""
    query = request.GET.get("query", "").strip()
    results = Page.objects.live().public().search(query) if query else Page.objects.none()
    page = Paginator(results, 10).get_page(request.GET.get("page"))
    return TemplateResponse(request, "search/search.html", {"search_query": query, "search_results": page})
