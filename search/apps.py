from typing import Any

from django.apps import AppConfig
from django.conf import settings


def _warm_up(**kwargs: Any) -> None:
    """A new Django-Q worker loads the Japanese dictionary at once (about 0.75 s), not when the
    first resident's question arrives."""
    if settings.WAGTAILSEARCH_BACKENDS["default"]["BACKEND"] == "search.backend":
        from search.japanese import warm_up

        warm_up()


class SearchConfig(AppConfig):
    name = "search"
    verbose_name = "検索"

    def ready(self) -> None:
        from django_q.signals import post_spawn

        post_spawn.connect(_warm_up, dispatch_uid="search-warm-up")
