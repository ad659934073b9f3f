"""A Japanese full-text search backend for Wagtail (django-modelsearch), ranked with BM25.

``WAGTAILSEARCH_BACKENDS = {"default": {"BACKEND": "search.backend"}}`` makes every search in the
project use it: ``Page.objects.live().search("粗大ごみの出し方を教えて")``, the admin's page,
snippet, image and document searches, the public site search and the chatbot.

How it works:

- **Indexing** (``JapaneseIndex``): Wagtail's signal handlers (and ``manage.py update_index``)
  hand objects to ``add_items``, which reads the model's ``search_fields`` (``SearchField`` and
  ``AutocompleteField`` values, callables, ``RelatedFields`` such as inline child objects and
  tags), analyses the text with SudachiPy (``search.japanese``) and stores one ``SearchDocument``
  per object: title terms (fields named ``title``) and body terms (everything else). Each write
  also inserts a ``SearchIndexChange`` row in the same transaction.
- **Searching**: each process keeps one in-memory BM25 index per root model (all pages, all
  images, …; ``search.bm25``), rebuilt lazily when the change log differs from the one it was
  built from (one small aggregate query per search). A query is analysed the same way; the
  documents containing its terms are scored (BM25F, k1 = 1.2, b = 0.75, the title counting three
  times) and restricted to the queryset by the ORM (``queryset.filter(pk__in=…)``), so a
  queryset's filters (``live()``, ``public()``, ``descendant_of()``, a collection, …) simply
  apply. A document that contains no query term is never a result.
- **Queries**: a string is ``PlainText`` with the operator "or" (residents' questions carry extra
  words; ranking sorts it out); "and" requires every word of the query, where a compound is
  satisfied either by itself or by all of its short units. ``Phrase`` is treated as "all its words",
  ``Fuzzy`` as plain text, ``MatchAll``, ``Boost``, ``And``, ``Or`` and ``Not`` are supported.
  ``fields=["title"]`` searches the titles only; any other field name selects the body (which
  holds all non-title fields together). Per-field boosts other than the title's are not used.
- **Autocomplete** (the admin's searches): the same, plus prefix matches of the query's end against
  the index vocabulary (「粗大ご」 finds 粗大ごみ, 「…の出し」 finds 出し方).

Options (in the WAGTAILSEARCH_BACKENDS entry): ``K1``, ``B``, ``TITLE_WEIGHT``,
``MAX_EXPANSIONS`` (prefix matches per autocomplete query, default 30).
"""

from __future__ import annotations

import secrets
import threading
from collections import Counter, OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models, router, transaction
from django.db.models import Count, Max, Sum
from django.utils.encoding import force_str
from modelsearch.backends.base import (
    BaseIndex,
    BaseSearchBackend,
    BaseSearchQueryCompiler,
    BaseSearchResults,
    FilterFieldError,
    get_model_root,
)
from modelsearch.index import AutocompleteField, RelatedFields, SearchField, get_indexed_models
from modelsearch.query import And, Boost, Fuzzy, MatchAll, Not, Or, Phrase, PlainText, SearchQuery
from modelsearch.utils import get_descendant_models

from search import bm25
from search.japanese import Word, analyse, autocomplete_analysis, tokens
from search.models import SearchDocument, SearchIndexChange

# Candidate lists up to this size go to the database as ``pk IN (…)``; larger ones are matched
# against the queryset's primary keys in Python (no database limits on query parameters).
PK_LIST_LIMIT = 500
MAX_EXPANSIONS = 30


# --- indexing ---------------------------------------------------------------------------------------


def _texts(value: Any) -> Iterator[str]:
    """The strings inside a search field's value (StreamField and rich text give lists)."""
    if value is None:
        return
    if isinstance(value, str):
        if value.strip():
            yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _texts(item)
    elif isinstance(value, list | tuple | set):
        for item in value:
            yield from _texts(item)
    else:
        text = force_str(value)
        if text.strip():
            yield text


def _related_objects(field_def: RelatedFields, obj: Any) -> list[Any]:
    """The objects behind a ``RelatedFields`` entry: one, none, or those of a manager."""
    try:
        value = field_def.get_value(obj)
    except FieldDoesNotExist:
        value = getattr(obj, field_def.field_name, None)
    if value is None:
        return []
    if isinstance(value, models.Manager | models.QuerySet):
        return list(value.all())
    if callable(value):
        value = value()
    if isinstance(value, list | tuple | set):
        return list(value)
    return [value]


def document_texts(obj: Any) -> tuple[list[str], list[str]]:
    """(title texts, body texts) of an object, from its model's ``search_fields``.

    The title is every field named ``title`` on the object itself; everything else is body.
    An ``AutocompleteField`` counts only when no ``SearchField`` of the same name already does.
    """
    title: list[str] = []
    body: list[str] = []

    def walk(instance: Any, search_fields: Sequence[Any], top: bool) -> None:
        searched = {f.field_name for f in search_fields if isinstance(f, SearchField)}
        for field_def in search_fields:
            if isinstance(field_def, SearchField) or (
                isinstance(field_def, AutocompleteField) and field_def.field_name not in searched
            ):
                target = title if top and field_def.field_name == "title" else body
                target.extend(_texts(field_def.get_value(instance)))
            elif isinstance(field_def, RelatedFields):
                for related in _related_objects(field_def, instance):
                    walk(related, field_def.fields, False)

    walk(obj, obj.get_search_fields(), True)
    return title, body


def document_terms(obj: Any) -> tuple[str, str]:
    """(title terms, body terms) of an object, space-joined, as stored in ``SearchDocument``."""
    title, body = document_texts(obj)
    return " ".join(tokens("\n".join(title))), " ".join(tokens("\n".join(body)))


def _chunked(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _changed(index_key: str, using: str) -> None:
    """Record a write to the index (in the writer's transaction): every process will rebuild.

    An insert, never an update of a shared row: concurrent writers do not wait for each other (and
    cannot deadlock with other locks their transactions take, such as the operation log's).
    """
    # bulk_create sends no signals: the operation log's safety net never sees index bookkeeping.
    SearchIndexChange.objects.using(using).bulk_create(
        [SearchIndexChange(index_key=index_key, token=secrets.randbits(31))]
    )
    transaction.on_commit(lambda: _prune(index_key, using), using=using)


PRUNE_AT = 1000
KEEP_CHANGES = 100


def _prune(index_key: str, using: str) -> None:
    """Keep the change log short (after commit; each process then rebuilds once)."""
    changes = SearchIndexChange.objects.using(using).filter(index_key=index_key)
    if changes.count() <= PRUNE_AT:
        return
    oldest_kept = changes.order_by("-id").values_list("id", flat=True)[KEEP_CHANGES - 1]
    changes.filter(id__lt=oldest_kept)._raw_delete(using=using)


def index_version(index_key: str, using: str) -> tuple[int, int | None, int | None]:
    """What the stored index looks like now: (changes, last change id, sum of their tokens)."""
    row = (
        SearchIndexChange.objects.using(using)
        .filter(index_key=index_key)
        .aggregate(n=Count("id"), last=Max("id"), tokens=Sum("token"))
    )
    return row["n"], row["last"], row["tokens"]


class JapaneseIndex(BaseIndex):
    """The stored documents of one root model (all pages, all images, …)."""

    def __init__(self, backend: JapaneseSearchBackend, root_model: type[models.Model]) -> None:
        super().__init__(backend)
        self.root_model = root_model
        self.key = root_model._meta.label_lower

    def get_key(self) -> str:
        return self.key

    def __str__(self) -> str:
        return self.key

    def __repr__(self) -> str:
        return f"<JapaneseIndex {self.key}>"

    @property
    def _write_db(self) -> str:
        return router.db_for_write(SearchDocument)

    def _documents(self, using: str) -> models.QuerySet[SearchDocument]:
        return SearchDocument.objects.using(using).filter(index_key=self.key)

    def add_model(self, model: type[models.Model]) -> None:
        pass

    def refresh(self) -> None:
        pass

    def reset(self) -> None:
        using = self._write_db
        with transaction.atomic(using=using):
            # A raw delete: no signals, so the operation log's safety net never sees index rows.
            self._documents(using)._raw_delete(using=using)
            _changed(self.key, using)

    def add_items(self, model: type[models.Model], items: Iterable[Any]) -> None:
        items = list(items)
        get_search_fields = getattr(model, "get_search_fields", None)
        if not items or get_search_fields is None or not get_search_fields():
            return
        using = self._write_db
        content_type = ContentType.objects.db_manager(using).get_for_model(model)
        keep = self._more_specific_documents(model, items, using)
        rows = []
        for obj in items:
            object_id = force_str(obj.pk)
            if object_id in keep:
                continue
            title, body = document_terms(obj)
            rows.append(
                SearchDocument(
                    index_key=self.key,
                    content_type=content_type,
                    object_id=object_id,
                    title=title,
                    body=body,
                )
            )
        if not rows:
            return
        with transaction.atomic(using=using):
            SearchDocument.objects.using(using).bulk_create(
                rows,
                update_conflicts=True,
                unique_fields=["index_key", "object_id"],
                update_fields=["content_type", "title", "body", "updated_at"],
            )
            _changed(self.key, using)

    def _more_specific_documents(self, model: type[models.Model], items: list[Any], using: str) -> set[str]:
        """Ids already indexed as a subclass of ``model``: indexing them as ``model`` would lose fields."""
        subclasses = [m for m in get_descendant_models(model) if m is not model and not m._meta.abstract]
        if not subclasses:
            return set()
        specific_types = {
            ct.pk for ct in ContentType.objects.db_manager(using).get_for_models(*subclasses).values()
        }
        ids = [force_str(obj.pk) for obj in items]
        keep: set[str] = set()
        for chunk in _chunked(ids, PK_LIST_LIMIT):
            keep.update(
                self._documents(using)
                .filter(object_id__in=chunk, content_type_id__in=specific_types)
                .values_list("object_id", flat=True)
            )
        return keep

    def delete_item(self, item: Any) -> None:
        using = self._write_db
        with transaction.atomic(using=using):
            self._documents(using).filter(object_id=force_str(item.pk))._raw_delete(using=using)
            _changed(self.key, using)

    def delete_stale(self) -> int:
        """Remove documents of objects that no longer exist or whose model is no longer indexed."""
        using = self._write_db
        indexed = [m for m in get_indexed_models() if get_model_root(m) is self.root_model]
        content_types = {
            ct.pk for ct in ContentType.objects.db_manager(using).get_for_models(*indexed).values()
        }
        existing = {force_str(pk) for pk in self.root_model._default_manager.values_list("pk", flat=True)}
        stale = [
            pk
            for pk, object_id, content_type_id in self._documents(using).values_list(
                "pk", "object_id", "content_type_id"
            )
            if object_id not in existing or content_type_id not in content_types
        ]
        if stale:
            with transaction.atomic(using=using):
                for chunk in _chunked(stale, PK_LIST_LIMIT):
                    SearchDocument.objects.using(using).filter(pk__in=chunk)._raw_delete(using=using)
                _changed(self.key, using)
        return len(stale)


class JapaneseIndexRebuilder:
    """``manage.py update_index``: drop stale documents, then (re)index every object."""

    def __init__(self, index: JapaneseIndex) -> None:
        self.index = index

    def start(self) -> JapaneseIndex:
        self.index.delete_stale()
        return self.index

    def finish(self) -> None:
        pass


# --- the in-memory indexes ------------------------------------------------------------------------

_snapshots: dict[tuple[str, str, float], tuple[tuple[int, int | None, int | None], bm25.Bm25Index]] = {}
_snapshots_lock = threading.Lock()
_build_locks: dict[tuple[str, str, float], threading.Lock] = {}


def _load(root_model: type[models.Model], using: str, **options: float) -> bm25.Bm25Index:
    pk_field = root_model._meta.pk
    assert pk_field is not None
    key = root_model._meta.label_lower

    def documents() -> Iterator[tuple[object, int, str, str]]:
        rows = (
            SearchDocument.objects.using(using)
            .filter(index_key=key)
            .order_by("pk")
            .values_list("object_id", "content_type_id", "title", "body")
        )
        for object_id, content_type_id, title, body in rows.iterator(chunk_size=2000):
            try:
                pk = pk_field.to_python(object_id)
            except ValidationError:
                continue
            yield pk, content_type_id, title, body

    return bm25.Bm25Index(documents(), **options)


def get_bm25_index(root_model: type[models.Model], *, b: float = bm25.B) -> bm25.Bm25Index:
    """This process's BM25 index of ``root_model``, rebuilt when the stored index changed."""
    using = router.db_for_read(SearchDocument)
    key = root_model._meta.label_lower
    cache_key = (using, key, b)
    # The version is read before the documents: a write in between makes the next search rebuild.
    version = index_version(key, using)
    cached = _snapshots.get(cache_key)
    if cached is not None and cached[0] == version:
        return cached[1]
    with _snapshots_lock:
        build_lock = _build_locks.setdefault(cache_key, threading.Lock())
    with build_lock:
        cached = _snapshots.get(cache_key)
        if cached is not None and cached[0] == version:
            return cached[1]
        index = _load(root_model, using, b=b)
        _snapshots[cache_key] = (version, index)
        return index


def clear_cache() -> None:
    """Forget every in-memory index (they are rebuilt on the next search)."""
    _snapshots.clear()


# --- queries ----------------------------------------------------------------------------------------


@dataclass
class _Group:
    """One word of a query and how a document meets it.

    Score: the better of the word's spellings (term or variant, so a variant does not count the
    word twice), plus each short unit, plus the best prefix expansion. With "and", a document must
    hold one alternative (all of its terms) or one expansion.
    """

    spellings: list[str]
    parts: list[str]
    alternatives: list[frozenset[str]]
    expansions: list[str] = field(default_factory=list)

    @property
    def terms(self) -> set[str]:
        return {*self.spellings, *self.parts}


class _Evaluator:
    """Scores the documents of one BM25 index for a query tree: {document number: score}."""

    def __init__(
        self,
        index: bm25.Bm25Index,
        *,
        title: bool,
        body: bool,
        autocomplete: bool,
        k1: float,
        title_weight: float,
        max_expansions: int,
    ) -> None:
        self.index = index
        self.title = title
        self.body = body
        self.autocomplete = autocomplete
        self.max_expansions = max_expansions
        self.k1 = k1
        self.title_weight = title_weight
        self._term_scores: dict[str, dict[int, float]] = {}

    def term_scores(self, term: str) -> dict[int, float]:
        scores = self._term_scores.get(term)
        if scores is None:
            scores = self._term_scores[term] = self.index.term_scores(
                term, title=self.title, body=self.body, k1=self.k1, title_weight=self.title_weight
            )
        return scores

    def everything(self) -> dict[int, float]:
        return dict.fromkeys(range(len(self.index)), 0.0)

    def evaluate(self, query: SearchQuery, boost: float = 1.0) -> dict[int, float]:
        if isinstance(query, PlainText):
            return self.text(query.query_string, query.operator, boost * query.boost, self.autocomplete)
        if isinstance(query, Phrase):
            return self.text(query.query_string, "and", boost, False)
        if isinstance(query, Fuzzy):
            return self.text(query.query_string, query.operator, boost, self.autocomplete)
        if isinstance(query, MatchAll):
            return self.everything()
        if isinstance(query, Boost):
            return self.evaluate(query.subquery, boost * query.boost)
        if isinstance(query, Not):
            excluded = self.evaluate(query.subquery, boost)
            return {doc: 0.0 for doc in range(len(self.index)) if doc not in excluded}
        if isinstance(query, And):
            results = [self.evaluate(sub, boost) for sub in query.subqueries]
            if not results:
                return {}
            common = set(results[0]).intersection(*results[1:])
            return {doc: sum(result[doc] for result in results) for doc in common}
        if isinstance(query, Or):
            combined: dict[int, float] = {}
            for result in (self.evaluate(sub, boost) for sub in query.subqueries):
                for doc, score in result.items():
                    combined[doc] = combined.get(doc, 0.0) + score
            return combined
        raise NotImplementedError(
            f"`{type(query).__name__}` is not supported by the Japanese search backend."
        )

    def groups(self, text: str, autocomplete: bool) -> list[_Group]:
        if autocomplete:
            words, prefixes, last_is_word = autocomplete_analysis(text)
        else:
            words, prefixes, last_is_word = analyse(text), [], False
        groups: list[_Group] = []
        by_word: dict[Word, _Group] = {}
        for word in words:
            if word in by_word:
                continue
            spellings = [word.term, word.variant] if word.variant else [word.term]
            alternatives = [frozenset([spelling]) for spelling in spellings]
            if word.parts:
                alternatives.append(frozenset(word.parts))
            group = by_word[word] = _Group(spellings, list(word.parts), alternatives)
            groups.append(group)
        if prefixes:
            # The query's end may be unfinished: its last word is also met by a longer term.
            target = by_word[words[-1]] if last_is_word and words else None
            expansions: list[str] = []
            for prefix in prefixes:
                for term in self.index.expand_prefix(prefix, self.max_expansions):
                    if term not in expansions and (target is None or term not in target.terms):
                        expansions.append(term)
            if target is not None:
                target.expansions = expansions
            elif expansions:
                groups.append(_Group([], [], [], expansions))
        return groups

    def best_of(self, terms: list[str]) -> dict[int, float]:
        """Per document, the best score among ``terms``."""
        best: dict[int, float] = {}
        for term in terms:
            for doc, score in self.term_scores(term).items():
                if score > best.get(doc, 0.0):
                    best[doc] = score
        return best

    def text(self, text: str, operator: str, boost: float, autocomplete: bool) -> dict[int, float]:
        groups = self.groups(text, autocomplete)
        if not groups:
            return {}
        totals: dict[int, float] = {}
        matched: set[int] | None = None
        for group in groups:
            group_scores: dict[int, float] = {}
            for term in group.parts:
                for doc, score in self.term_scores(term).items():
                    group_scores[doc] = group_scores.get(doc, 0.0) + score
            best = self.best_of(group.expansions)
            for scores in (self.best_of(group.spellings), best):
                for doc, score in scores.items():
                    group_scores[doc] = group_scores.get(doc, 0.0) + score
            for doc, score in group_scores.items():
                totals[doc] = totals.get(doc, 0.0) + score
            if operator == "and":
                satisfied: set[int] = set(best)
                for alternative in group.alternatives:
                    docs: set[int] | None = None
                    for term in alternative:
                        found = set(self.term_scores(term))
                        docs = found if docs is None else docs & found
                    satisfied |= docs or set()
                matched = satisfied if matched is None else matched & satisfied
        if matched is not None:
            return {doc: totals[doc] * boost for doc in matched}
        return {doc: score * boost for doc, score in totals.items()}


class _Ranking:
    """The results of one query: candidates from the index in result order, confirmed against the
    queryset only as far as they are needed (the chatbot's top five cost one small query)."""

    def __init__(
        self,
        compiler: JapaneseSearchQueryCompiler,
        candidates: list[Any],
        scores: dict[Any, float],
        *,
        confirmed: list[Any] | None = None,
    ) -> None:
        self.compiler = compiler
        self.candidates = candidates
        self.scores = scores
        self.confirmed: list[Any] = [] if confirmed is None else confirmed
        self.checked = 0 if confirmed is None else len(candidates)

    def _confirm(self, batch: list[Any], found: set[Any]) -> None:
        self.confirmed.extend(pk for pk in batch if pk in found)
        self.checked += len(batch)

    def head(self, stop: int | None) -> list[Any]:
        """The first ``stop`` results (all when None)."""
        if stop is None:
            return self.all()
        size = 50
        while len(self.confirmed) < stop and self.checked < len(self.candidates):
            # usually nearly every candidate is in the queryset: ask for a few more than needed
            size = min(PK_LIST_LIMIT, max(size, 2 * (stop - len(self.confirmed))))
            batch = self.candidates[self.checked : self.checked + size]
            size *= 2
            self._confirm(batch, self._present(batch))
        return self.confirmed[:stop]

    def all(self) -> list[Any]:
        rest = self.candidates[self.checked :]
        if rest:
            self._confirm(rest, self._present(rest))
        return self.confirmed

    def _present(self, pks: list[Any]) -> set[Any]:
        """Which of ``pks`` the queryset holds (its filters applied by the database)."""
        queryset = self.compiler.queryset.order_by()
        if len(pks) > PK_LIST_LIMIT:
            return set(queryset.values_list("pk", flat=True).iterator())
        return set(queryset.filter(pk__in=pks).values_list("pk", flat=True))


class JapaneseSearchQueryCompiler(BaseSearchQueryCompiler):
    DEFAULT_OPERATOR = "or"
    HANDLES_ORDER_BY_EXPRESSIONS = True
    AUTOCOMPLETE = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._ranking: _Ranking | None = None

    def matches_all(self) -> bool:
        return isinstance(self.query, MatchAll)

    def matches_nothing(self) -> bool:
        return isinstance(self.query, Not) and isinstance(self.query.subquery, MatchAll)

    def ordered_queryset(self) -> models.QuerySet[Any]:
        """The queryset in its own order, or newest first when it has none (stable pages)."""
        queryset = self.queryset
        if not queryset.ordered:
            queryset = queryset.order_by("-pk")
        return queryset

    def _searched_fields(self) -> tuple[bool, bool]:
        if self.fields is None:
            return True, True
        names = set(self.fields)
        return "title" in names, bool(names - {"title"})

    def _in_queryset(self, candidates: Iterable[Any]) -> list[Any]:
        """The candidates the queryset contains, in the queryset's order."""
        candidates = list(candidates)
        if not candidates:
            return []
        queryset = self.ordered_queryset()
        if len(candidates) <= PK_LIST_LIMIT:
            rows: Iterable[Any] = queryset.filter(pk__in=candidates).values_list("pk", flat=True)
        else:
            wanted = set(candidates)
            rows = (pk for pk in queryset.values_list("pk", flat=True).iterator() if pk in wanted)
        return list(dict.fromkeys(rows))

    def ranking(self, backend: JapaneseSearchBackend) -> _Ranking:
        """The results of the query (computed once; checked against the queryset as needed)."""
        if self._ranking is not None:
            return self._ranking
        query = self.query
        negated = isinstance(query, Not)
        if negated:
            query = query.subquery
        model = self.queryset.model
        root = get_model_root(model)
        index = get_bm25_index(root, b=backend.b)
        title, body = self._searched_fields()
        evaluator = _Evaluator(
            index,
            title=title,
            body=body,
            autocomplete=self.AUTOCOMPLETE,
            k1=backend.k1,
            title_weight=backend.title_weight,
            max_expansions=backend.max_expansions,
        )
        scores = evaluator.evaluate(query)
        if model is not root:
            wanted_types = {
                ct.pk for ct in ContentType.objects.get_for_models(*get_descendant_models(model)).values()
            }
            scores = {doc: s for doc, s in scores.items() if index.content_types[doc] in wanted_types}
        if negated:
            excluded = {index.pks[doc] for doc in scores}
            rows = self.ordered_queryset().values_list("pk", flat=True).iterator()
            self._ranking = _Ranking(
                self, [], {}, confirmed=list(dict.fromkeys(pk for pk in rows if pk not in excluded))
            )
        elif self.order_by_relevance:
            # best first; equal scores: the document indexed last first
            ranked = sorted(scores.items(), key=lambda item: (-item[1], -item[0]))
            self._ranking = _Ranking(
                self, [index.pks[doc] for doc, _ in ranked], {index.pks[d]: s for d, s in ranked}
            )
        else:
            by_pk = {index.pks[doc]: score for doc, score in scores.items()}
            self._ranking = _Ranking(self, [], by_pk, confirmed=self._in_queryset(by_pk))
        return self._ranking

    def fetch(self, pks: Sequence[Any]) -> list[Any]:
        """The queryset's objects for ``pks``, in that order (select/prefetch/specific preserved)."""
        if not pks:
            return []
        objects = list(self.queryset.filter(pk__in=list(pks)))
        if objects and not all(hasattr(obj, "pk") for obj in objects):
            return objects  # a values() queryset: the database's order
        by_pk = {obj.pk: obj for obj in objects}
        return [by_pk[pk] for pk in pks if pk in by_pk]


class JapaneseAutocompleteQueryCompiler(JapaneseSearchQueryCompiler):
    AUTOCOMPLETE = True


class JapaneseSearchResults(BaseSearchResults):
    supports_facet = True
    query_compiler: JapaneseSearchQueryCompiler
    backend: JapaneseSearchBackend

    def _do_search(self) -> list[Any]:
        compiler = self.query_compiler
        if compiler.matches_nothing():
            return []
        if compiler.matches_all():
            objects = list(compiler.ordered_queryset()[self.start : self.stop])
            scores: dict[Any, float] = {}
        else:
            ranking = compiler.ranking(self.backend)
            scores = ranking.scores
            objects = compiler.fetch(ranking.head(self.stop)[self.start : self.stop])
        if self._score_field:
            for obj in objects:
                if hasattr(obj, "pk"):
                    setattr(obj, self._score_field, scores.get(obj.pk, 0.0))
        return objects

    def _do_count(self) -> int:
        compiler = self.query_compiler
        if compiler.matches_nothing():
            return 0
        if compiler.matches_all():
            return compiler.ordered_queryset()[self.start : self.stop].count()
        return len(compiler.ranking(self.backend).all()[self.start : self.stop])

    def facet(self, field_name: str) -> OrderedDict[Any, int]:
        compiler = self.query_compiler
        if compiler._get_filterable_field(field_name) is None:
            raise FilterFieldError(
                f'Cannot facet search results with field "{field_name}". Please add '
                f"index.FilterField('{field_name}') to {compiler.queryset.model.__name__}.search_fields.",
                field_name=field_name,
            )
        if compiler.matches_nothing():
            return OrderedDict()
        if compiler.matches_all():
            rows = compiler.queryset.values(field_name).annotate(count=Count("pk")).order_by("-count")
            return OrderedDict((row[field_name], row["count"]) for row in rows)
        pks = compiler.ranking(self.backend).all()
        counts: Counter[Any] = Counter()
        for chunk in _chunked(pks, PK_LIST_LIMIT):
            counts.update(compiler.queryset.filter(pk__in=list(chunk)).values_list(field_name, flat=True))
        return OrderedDict(counts.most_common())


class JapaneseSearchBackend(BaseSearchBackend):
    query_compiler_class = JapaneseSearchQueryCompiler
    autocomplete_query_compiler_class = JapaneseAutocompleteQueryCompiler
    results_class = JapaneseSearchResults
    index_class = JapaneseIndex
    rebuilder_class = JapaneseIndexRebuilder
    # The index lives in the database: an indexing error belongs to the transaction that caused it.
    catch_indexing_errors = False

    def __init__(self, params: dict[str, Any]) -> None:
        super().__init__(params)
        self.k1 = float(params.get("K1", bm25.K1))
        self.b = float(params.get("B", bm25.B))
        self.title_weight = float(params.get("TITLE_WEIGHT", bm25.TITLE_WEIGHT))
        self.max_expansions = int(params.get("MAX_EXPANSIONS", MAX_EXPANSIONS))

    def get_index_for_model(self, model: type[models.Model]) -> JapaneseIndex:
        return JapaneseIndex(self, get_model_root(model))


SearchBackend = JapaneseSearchBackend
