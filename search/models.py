"""Storage of the Japanese search index (``search.backend``).

The database holds the analysed documents; every process keeps an in-memory BM25 index built from
them (``search.bm25``) and rebuilds it when the index changed (``SearchIndexChange``), so web
processes and Django-Q clusters on several machines all see a page as soon as it is published.
"""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from django.db import models


class SearchDocument(models.Model):
    """One indexed object: its title and body as index terms (``search.japanese.tokens``)."""

    # The root model's label ("wagtailcore.page", "wagtailimages.image"): one in-memory index each.
    index_key = models.CharField("索引", max_length=100)
    # The object's own (most specific) model, e.g. home.StandardPage.
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, related_name="+")
    object_id = models.CharField("オブジェクトID", max_length=255)
    title = models.TextField("タイトルの語", blank=True)
    body = models.TextField("本文の語", blank=True)
    updated_at = models.DateTimeField("更新日時", auto_now=True)

    class Meta:
        verbose_name = "検索文書"
        verbose_name_plural = "検索文書"
        constraints = [
            models.UniqueConstraint(fields=["index_key", "object_id"], name="search_document_object_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.index_key}:{self.object_id}"


class SearchIndexChange(models.Model):
    """One write to an index (a row per add, delete or reset, in the writer's transaction).

    A process's in-memory index remembers the changes it was built from (their number, the last
    id and the sum of their random tokens); when these differ (a write committed by any process,
    rows pruned, or a rolled-back test transaction), it is rebuilt. Rows are only ever inserted by
    writers, so concurrent writers never wait for each other here; old rows are pruned after
    commit.
    """

    index_key = models.CharField("索引", max_length=100)
    token = models.IntegerField("乱数")
    created_at = models.DateTimeField("日時", auto_now_add=True)

    class Meta:
        verbose_name = "検索索引の変更"
        verbose_name_plural = "検索索引の変更"
        indexes = [models.Index(fields=["index_key", "id"], name="search_change_key_id")]

    def __str__(self) -> str:
        return f"{self.index_key}#{self.pk}"
