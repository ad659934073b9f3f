"""Wagtail's Elasticsearch 8 / OpenSearch backend with a Japanese (kuromoji) analyzer.

For a city that runs an Elasticsearch 8 or OpenSearch cluster instead of the database backend
(``search.backend``): set ``KAIRAN_SEARCH_URL`` (e.g. ``https://user:pass@search.example.jp:9200``)
and, for OpenSearch, ``KAIRAN_SEARCH_ENGINE=opensearch2`` or ``opensearch3``. The cluster needs
the ``analysis-kuromoji`` plugin (``bin/elasticsearch-plugin install analysis-kuromoji``;
OpenSearch: ``bin/opensearch-plugin install analysis-kuromoji``) and the Python client must be
installed (``elasticsearch>=8,<9`` or ``opensearch-py``). Then run ``manage.py update_index``.

The analyzer mirrors ``search.japanese``: width folding (``cjk_width``), kuromoji's tokenizer in
search mode (compounds also give their parts), base forms (教え → 教える), parts of speech without
topic dropped, Japanese stop words plus our question words, lower case. Katakana/hiragana folding
would need the ``analysis-icu`` plugin and is not done here. Autocomplete fields are edge n-grams
of kuromoji tokens, searched with the same analyzer (not the "standard" one, which cuts Japanese
into single characters).
"""

from __future__ import annotations

import copy
from functools import cache
from importlib import import_module
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from search.japanese import STOP_WORDS

ENGINES = ("elasticsearch8", "opensearch2", "opensearch3")

_FILTERS = [
    "cjk_width",
    "kuromoji_baseform",
    "kuromoji_part_of_speech",
    "ja_stop",
    "kairan_ja_stop",
    "lowercase",
]

INDEX_SETTINGS: dict[str, Any] = {
    "settings": {
        "analysis": {
            "tokenizer": {
                "kairan_kuromoji": {"type": "kuromoji_tokenizer", "mode": "search"},
            },
            "filter": {
                "kairan_ja_stop": {"type": "ja_stop", "stopwords": sorted(STOP_WORDS)},
                "kairan_edgengram": {"type": "edge_ngram", "min_gram": 1, "max_gram": 15},
            },
            "analyzer": {
                # Every text field without an analyzer of its own (SearchFields, _all_text).
                "default": {"type": "custom", "tokenizer": "kairan_kuromoji", "filter": _FILTERS},
                "kairan_ja": {"type": "custom", "tokenizer": "kairan_kuromoji", "filter": _FILTERS},
                # AutocompleteFields: prefixes of each Japanese token.
                "edgengram_analyzer": {
                    "type": "custom",
                    "tokenizer": "kairan_kuromoji",
                    "filter": [*_FILTERS, "kairan_edgengram"],
                },
            },
        }
    }
}


@cache
def backend_class(engine: str) -> type[Any]:
    """Wagtail's backend class for ``engine``, searching autocomplete fields with the Japanese analyzer."""
    if engine not in ENGINES:
        raise ImproperlyConfigured(
            f"KAIRAN_SEARCH_ENGINE must be one of {', '.join(ENGINES)}, got {engine!r}"
        )
    try:
        module = import_module(f"modelsearch.backends.{engine}")
    except ImportError as exc:
        client = "elasticsearch>=8,<9" if engine.startswith("elastic") else "opensearch-py"
        raise ImproperlyConfigured(
            f"KAIRAN_SEARCH_URL is set but the {engine} client is missing: install {client!r} ({exc})"
        ) from exc
    base = module.SearchBackend

    class JapaneseMapping(base.mapping_class):  # type: ignore[name-defined]
        edgengram_analyzer_config = {"analyzer": "edgengram_analyzer", "search_analyzer": "kairan_ja"}

    class JapaneseBackend(base):  # type: ignore[valid-type,misc]
        mapping_class = JapaneseMapping

    JapaneseBackend.__name__ = JapaneseBackend.__qualname__ = f"Japanese{base.__name__}"
    return JapaneseBackend


def SearchBackend(params: dict[str, Any]) -> Any:  # the name modelsearch looks for
    """Wagtail's backend for ``ENGINE`` with the Japanese analyzer (``INDEX_SETTINGS`` may add more)."""
    from modelsearch.utils import deep_update

    params = dict(params)
    cls = backend_class(params.pop("ENGINE", "elasticsearch8"))
    params["INDEX_SETTINGS"] = deep_update(copy.deepcopy(INDEX_SETTINGS), params.pop("INDEX_SETTINGS", {}))
    return cls(params)
