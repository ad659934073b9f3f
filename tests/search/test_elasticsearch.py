"""The Elasticsearch 8 / OpenSearch alternative (KAIRAN_SEARCH_URL) with its Japanese analyzer.

The live test runs only when KAIRAN_SEARCH_URL points at a cluster with analysis-kuromoji (the whole
suite then runs on that backend, as the settings choose it).
"""

from __future__ import annotations

import importlib.util
import os
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from search import elastic

SEARCH_URL = os.environ.get("KAIRAN_SEARCH_URL", "")


def test_index_settings_define_a_japanese_analyzer() -> None:
    analysis = elastic.INDEX_SETTINGS["settings"]["analysis"]
    assert analysis["tokenizer"]["kairan_kuromoji"]["type"] == "kuromoji_tokenizer"
    for name in ("default", "kairan_ja", "edgengram_analyzer"):
        analyzer = analysis["analyzer"][name]
        assert analyzer["tokenizer"] == "kairan_kuromoji"
        assert {"cjk_width", "lowercase", "kuromoji_baseform", "kuromoji_part_of_speech", "ja_stop"} <= set(
            analyzer["filter"]
        )
    assert "ください" in analysis["filter"]["kairan_ja_stop"]["stopwords"]


def test_an_unknown_engine_is_refused() -> None:
    with pytest.raises(ImproperlyConfigured, match="KAIRAN_SEARCH_ENGINE"):
        elastic.SearchBackend({"URLS": ["http://127.0.0.1:9200"], "ENGINE": "solr"})


@pytest.mark.skipif(importlib.util.find_spec("elasticsearch") is not None, reason="the client is installed")
def test_a_missing_client_is_named() -> None:
    with pytest.raises(ImproperlyConfigured, match="elasticsearch>=8,<9"):
        elastic.SearchBackend({"URLS": ["http://127.0.0.1:9200"]})


@pytest.mark.skipif(
    importlib.util.find_spec("elasticsearch") is None, reason="needs the elasticsearch client"
)
def test_the_backend_gets_the_japanese_settings() -> None:
    backend = elastic.SearchBackend({"URLS": ["http://127.0.0.1:9200"], "INDEX_SETTINGS": {"x": 1}})
    assert backend.settings["settings"]["analysis"]["analyzer"]["default"]["tokenizer"] == "kairan_kuromoji"
    assert backend.settings["x"] == 1
    assert backend.mapping_class.edgengram_analyzer_config["search_analyzer"] == "kairan_ja"


@pytest.mark.skipif(not SEARCH_URL, reason="KAIRAN_SEARCH_URL is not set (no Elasticsearch/OpenSearch)")
def test_search_on_the_cluster(publish: Callable[..., Any], settings: Any) -> None:
    from wagtail.models import Page
    from wagtail.search.backends import get_search_backend

    prefix = f"kairan_test_{uuid.uuid4().hex[:8]}_"
    settings.WAGTAILSEARCH_BACKENDS = {
        "default": {**settings.WAGTAILSEARCH_BACKENDS["default"], "INDEX_PREFIX": prefix}
    }
    backend = get_search_backend()
    assert type(backend).__name__.startswith("Japanese")
    index = backend.get_index_for_model(Page)
    index.reset()
    index.add_model(Page)
    try:
        publish("粗大ごみの出し方", "<p>粗大ごみは申し込みが必要です。</p>")
        publish("クマの出没情報", "<p>クマを見かけたら連絡してください。</p>")
        index.refresh()
        results = list(Page.objects.live().search("粗大ごみの出し方を教えて", operator="or"))
        assert results and results[0].title == "粗大ごみの出し方"
        assert [p.title for p in Page.objects.live().search("クマ")] == ["クマの出没情報"]
        assert list(Page.objects.live().search("パスポート")) == []
    finally:
        index.delete()
