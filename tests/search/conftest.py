"""Pages to search: StandardPages under the site's home page, their lead and body searched."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from wagtail.models import Page
from wagtail.search import index

from home.models import StandardPage
from search import backend as search_backend

# StandardPage inherits Page.search_fields (the title only); the chatbot and the site search want
# the text too. The tests search lead and body whatever the model declares.
SEARCHED_TEXT = [index.SearchField("lead"), index.SearchField("body")]


@pytest.fixture(autouse=True)
def _japanese_backend(request: pytest.FixtureRequest, settings: Any) -> None:
    """These tests are about our backend even when KAIRAN_SEARCH_URL selects a cluster."""
    if not request.node.module.__name__.endswith("test_elasticsearch"):
        settings.WAGTAILSEARCH_BACKENDS = {"default": {"BACKEND": "search.backend"}}


@pytest.fixture(autouse=True)
def _fresh_memory() -> Iterator[None]:
    """No in-memory index survives from another test (the change check would catch it anyway)."""
    search_backend.clear_cache()
    yield
    search_backend.clear_cache()


@pytest.fixture
def searchable_text(monkeypatch: pytest.MonkeyPatch) -> None:
    names = {field.field_name for field in StandardPage.get_search_fields()}
    extra = [field for field in SEARCHED_TEXT if field.field_name not in names]
    monkeypatch.setattr(StandardPage, "search_fields", [*StandardPage.search_fields, *extra])


@pytest.fixture
def home(db: None) -> Page:
    return Page.objects.get(depth=2)


@pytest.fixture
def publish(home: Page, searchable_text: None) -> Callable[..., StandardPage]:
    """Create and publish a StandardPage (Wagtail's signal handler indexes it)."""
    counter = iter(range(1, 10_000))

    def _publish(
        title: str, body: str = "", *, lead: str = "", parent: Page | None = None, live: bool = True
    ) -> Any:
        page = StandardPage(title=title, slug=f"page-{next(counter)}", lead=lead, body=body, live=live)
        (parent or home).add_child(instance=page)
        revision = page.save_revision()
        if live:
            revision.publish()
        page.refresh_from_db()
        return page

    return _publish
