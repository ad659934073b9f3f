"""The Japanese search backend with real Wagtail pages: indexing, BM25 ranking, the Wagtail API."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from wagtail.models import Page
from wagtail.search.backends import get_search_backend
from wagtail.search.query import MATCH_ALL, Boost, Not, Phrase, PlainText

from home.models import StandardPage
from search import backend as search_backend
from search.backend import JapaneseSearchBackend, get_bm25_index, index_version
from search.models import SearchDocument, SearchIndexChange

Publish = Callable[..., Any]

GOMI_BODY = (
    "<p>粗大ごみは、事前に申し込みが必要です。粗大ごみ処理券を購入し、収集日の朝8時までに出してください。</p>"
)


@pytest.fixture
def city(publish: Publish) -> dict[str, Any]:
    """A few pages of a city site."""
    return {
        "sodai": publish("粗大ごみの出し方", GOMI_BODY, lead="粗大ごみの申し込みと出し方"),
        "bunbetsu": publish("ごみの分別", "<p>燃やせるごみ、資源ごみ、粗大ごみの分け方。</p>"),
        "calendar": publish("ゴミ収集カレンダー", "<p>地区ごとの収集日です。</p>"),
        "juminhyo": publish("住民票の写しの請求", "<p>住民票の写しは市民課の窓口で請求できます。</p>"),
        "kuma": publish("クマの出没情報", "<p>クマを見かけたら近づかず、市役所へ連絡してください。</p>"),
        "kosodate": publish("子育て支援センター", "<p>子育ての相談ができます。</p>"),
    }


def titles(results: Any) -> list[str]:
    return [page.title for page in results]


def test_it_is_the_default_backend() -> None:
    assert isinstance(get_search_backend(), JapaneseSearchBackend)


def test_a_question_finds_the_page_that_answers_it(city: dict[str, Any]) -> None:
    results = Page.objects.live().search("粗大ごみの出し方を教えて")
    assert titles(results)[0] == "粗大ごみの出し方"


def test_the_most_specific_page_ranks_first(city: dict[str, Any]) -> None:
    found = titles(Page.objects.live().search("粗大ごみ"))
    # the page about 粗大ごみ, then the one that mentions it; ごみ alone matches the others
    assert found[:2] == ["粗大ごみの出し方", "ごみの分別"]
    assert "ゴミ収集カレンダー" in found and "住民票の写しの請求" not in found
    assert titles(Page.objects.live().search("住民票の写しがほしい"))[0] == "住民票の写しの請求"


def test_scores_are_bm25(city: dict[str, Any]) -> None:
    results = list(Page.objects.live().search("粗大ごみの出し方を教えて").annotate_score("_score"))
    scores = [page._score for page in results]
    assert all(isinstance(score, float) and score > 0 for score in scores)
    assert scores == sorted(scores, reverse=True)
    assert scores[0] > 1.5 * scores[1]  # a clear winner

    # the same number computed by hand: BM25F over the stored terms (k1 = 1.2, b = 0.75, title x 3)
    index = get_bm25_index(Page)
    doc = index.pks.index(city["kuma"].pk)
    [(page, score)] = [(p, p._score) for p in Page.objects.live().search("クマ").annotate_score("_score")]
    assert page.pk == city["kuma"].pk
    posting = index.postings["くま"]
    at = list(posting.docs).index(doc)
    tf = 3.0 * posting.title_tf[at] / index.title_norms[doc] + posting.body_tf[at] / index.body_norms[doc]
    expected = index.idf("くま") * tf * 2.2 / (1.2 + tf)
    assert score == pytest.approx(expected)


def test_katakana_and_hiragana_find_each_other(city: dict[str, Any]) -> None:
    assert "クマの出没情報" in titles(Page.objects.live().search("くま"))
    assert "ゴミ収集カレンダー" in titles(Page.objects.live().search("ごみの収集"))
    assert titles(Page.objects.live().search("ｺﾞﾐ収集"))[0] == "ゴミ収集カレンダー"


def test_no_match_gives_nothing(city: dict[str, Any]) -> None:
    results = Page.objects.live().search("パスポートの更新")
    assert list(results) == [] and results.count() == 0
    # a question of stop words only
    assert list(Page.objects.live().search("教えてください")) == []


def test_a_document_matching_no_term_is_never_a_result(city: dict[str, Any]) -> None:
    for page in Page.objects.live().search("クマ"):
        assert "クマ" in page.title or "クマ" in page.specific.body


def test_operator_and_needs_every_word(city: dict[str, Any]) -> None:
    assert titles(Page.objects.live().search("粗大ごみ 収集日", operator="and")) == ["粗大ごみの出し方"]
    assert set(titles(Page.objects.live().search("粗大ごみ 収集日", operator="or"))) >= {
        "粗大ごみの出し方",
        "ゴミ収集カレンダー",
    }
    # a compound in the query is met by a page that has its parts
    assert "ごみの分別" in titles(Page.objects.live().search("資源ごみ", operator="and"))


def test_query_objects(city: dict[str, Any]) -> None:
    search = Page.objects.live().search
    assert titles(search(Phrase("住民票の写し")))[0] == "住民票の写しの請求"
    both = search(PlainText("ごみ") & PlainText("収集"))
    assert set(titles(both)) == {"粗大ごみの出し方", "ゴミ収集カレンダー"}
    either = search(PlainText("クマ") | PlainText("子育て"))
    assert set(titles(either)) == {"クマの出没情報", "子育て支援センター"}
    without = search(PlainText("ごみ") & Not(PlainText("収集")))
    assert set(titles(without)) == {"ごみの分別"}
    boosted = search(PlainText("クマ") | Boost(PlainText("子育て"), 100))
    assert titles(boosted)[0] == "子育て支援センター"
    everything = search(MATCH_ALL)
    assert everything.count() == Page.objects.live().count()
    not_kuma = search(Not(PlainText("クマ")))
    assert "クマの出没情報" not in titles(not_kuma) and not_kuma.count() == Page.objects.live().count() - 1


def test_fields_restrict_to_titles(city: dict[str, Any]) -> None:
    assert titles(StandardPage.objects.search("窓口", fields=["title"])) == []
    assert titles(StandardPage.objects.search("窓口", fields=["body"])) == ["住民票の写しの請求"]
    assert titles(StandardPage.objects.search("出没", fields=["title"])) == ["クマの出没情報"]
    assert titles(StandardPage.objects.search("市役所", fields=["title"])) == []


def test_queryset_filters_and_order(city: dict[str, Any], home: Page) -> None:
    section = city["sodai"]
    child = StandardPage(title="粗大ごみの料金", slug="ryokin", body="<p>粗大ごみ処理券は一枚300円。</p>")
    section.add_child(instance=child)
    child.save_revision().publish()
    inside = titles(Page.objects.descendant_of(section).search("粗大ごみ"))
    assert inside == ["粗大ごみの料金"]
    # order_by_relevance=False keeps the queryset's order
    by_title = Page.objects.live().order_by("title").search("粗大ごみ", order_by_relevance=False)
    assert titles(by_title) == sorted(titles(by_title))
    # a subclass queryset sees its own pages only
    assert {type(p) for p in StandardPage.objects.search("ごみ")} == {StandardPage}


def test_slicing_count_and_pagination(publish: Publish) -> None:
    for n in range(25):
        publish(f"お知らせ{n}", "<p>" + "防災 " * (n + 1) + "</p>")
    results = Page.objects.live().search("防災").annotate_score("_score")
    assert results.count() == 25
    first, second = list(results[:10]), list(results[10:20])
    assert len(first) == 10 and len(second) == 10 and not {p.pk for p in first} & {p.pk for p in second}
    assert first[0]._score >= first[-1]._score >= second[0]._score
    assert results[20:].count() == 5
    assert results[3].pk == first[3].pk


def test_more_candidates_than_an_sql_list(publish: Publish, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search_backend, "PK_LIST_LIMIT", 3)
    pages = [publish(f"防災訓練{n}", "<p>防災</p>") for n in range(6)]
    pages[0].unpublish()
    results = Page.objects.live().search("防災")
    assert results.count() == 5 and pages[0].pk not in {p.pk for p in results}


def test_updating_a_page_updates_the_results(city: dict[str, Any]) -> None:
    page = city["kosodate"]
    assert list(Page.objects.live().search("児童館")) == []
    page.body = "<p>児童館の利用案内。</p>"
    page.save_revision().publish()
    assert titles(Page.objects.live().search("児童館")) == ["子育て支援センター"]
    page.title = "児童館"
    page.body = "<p>利用案内。</p>"
    page.save_revision().publish()
    assert titles(Page.objects.live().search("子育て")) == []


def test_unpublished_pages_are_excluded_by_live(city: dict[str, Any], publish: Publish) -> None:
    draft = publish("粗大ごみの新しい料金（案）", "<p>粗大ごみ</p>", live=False)
    assert draft.pk in {p.pk for p in Page.objects.search("粗大ごみ")}
    assert draft.pk not in {p.pk for p in Page.objects.live().search("粗大ごみ")}
    city["kuma"].unpublish()
    assert list(Page.objects.live().search("クマ")) == []


def test_deleting_a_page_removes_it(city: dict[str, Any]) -> None:
    pk = city["kuma"].pk
    city["kuma"].delete()
    assert list(Page.objects.search("クマ")) == []
    assert not SearchDocument.objects.filter(object_id=str(pk)).exists()


def test_autocomplete_matches_prefixes(city: dict[str, Any]) -> None:
    complete = Page.objects.live().autocomplete
    assert titles(complete("粗大ご"))[0] == "粗大ごみの出し方"
    assert "子育て支援センター" in titles(complete("子育"))
    assert "住民票の写しの請求" in titles(complete("住民"))
    assert titles(complete("粗大ごみの出し", operator="and")) == ["粗大ごみの出し方"]
    assert list(complete("パスポ")) == []


def test_facet(city: dict[str, Any]) -> None:
    facets = Page.objects.live().search("ごみ").facet("content_type_id")
    assert facets == {city["sodai"].content_type_id: Page.objects.live().search("ごみ").count()}
    assert Page.objects.live().search("ごみ").facet("locked") == {False: 3}


def test_score_annotation_for_match_all(city: dict[str, Any]) -> None:
    assert {page._score for page in Page.objects.live().search(MATCH_ALL).annotate_score("_score")} == {0.0}


def test_every_process_sees_a_change(city: dict[str, Any]) -> None:
    """Another process's write changes the change log; the in-memory index follows it."""
    index = get_bm25_index(Page)
    assert get_bm25_index(Page) is index  # unchanged: no rebuild
    version = index_version("wagtailcore.page", "default")
    # another process indexes a page (simulated: the stored rows and the change log change)
    StandardPage.objects.filter(pk=city["kuma"].pk).update(title="ツキノワグマ")
    page = StandardPage.objects.get(pk=city["kuma"].pk)
    search_backend.JapaneseIndex(get_search_backend(), Page).add_items(StandardPage, [page])
    assert index_version("wagtailcore.page", "default") != version
    assert get_bm25_index(Page) is not index
    assert titles(Page.objects.search("ツキノワグマ")) == ["ツキノワグマ"]


def test_the_change_log_is_pruned_after_commit(city: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search_backend, "PRUNE_AT", 5)
    monkeypatch.setattr(search_backend, "KEEP_CHANGES", 2)
    page = city["kuma"]
    index = search_backend.JapaneseIndex(get_search_backend(), Page)
    for _ in range(6):
        index.add_items(StandardPage, [page])
    before = SearchIndexChange.objects.count()
    search_backend._prune("wagtailcore.page", "default")
    assert before > 5 and SearchIndexChange.objects.count() == 2
    assert titles(Page.objects.search("クマ")) == ["クマの出没情報"]


def test_concurrent_searches(city: dict[str, Any]) -> None:
    if connection.vendor == "sqlite":
        pytest.skip("threads need their own connections; SQLite's test transaction is not shared")
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(5):
                search_backend.clear_cache()
                get_bm25_index(Page)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors


def test_update_index_rebuilds_and_drops_stale_documents(city: dict[str, Any]) -> None:
    SearchDocument.objects.all().delete()
    SearchDocument.objects.create(
        index_key="wagtailcore.page",
        content_type=city["kuma"].content_type,
        object_id="999999",
        title="幽霊",
        body="",
    )
    call_command("update_index", verbosity=0)
    assert not SearchDocument.objects.filter(object_id="999999").exists()
    assert SearchDocument.objects.filter(index_key="wagtailcore.page").count() == Page.objects.count()
    assert titles(Page.objects.live().search("粗大ごみの出し方を教えて"))[0] == "粗大ごみの出し方"
    # every page once, as its most specific type
    kuma = SearchDocument.objects.get(object_id=str(city["kuma"].pk))
    assert kuma.content_type.model_class() is StandardPage and "くま" in kuma.title.split()


def test_indexing_as_a_parent_model_keeps_the_specific_document(city: dict[str, Any]) -> None:
    page = Page.objects.get(pk=city["kuma"].pk)
    search_backend.JapaneseIndex(get_search_backend(), Page).add_items(Page, [page])
    document = SearchDocument.objects.get(object_id=str(page.pk))
    assert document.content_type.model_class() is StandardPage and "出没" in document.title.split()


def test_reset(city: dict[str, Any]) -> None:
    get_search_backend().reset_indexes()
    assert not SearchDocument.objects.exists()
    assert list(Page.objects.search("クマ")) == []


def test_images_are_searched_in_japanese(db: None) -> None:
    from wagtail.images.models import Image
    from wagtail.images.tests.utils import get_test_image_file

    image = Image.objects.create(title="大船渡湾の夕焼け", file=get_test_image_file())
    image.tags.add("風景写真")
    image.save()  # as the admin's edit view does after saving the tags
    Image.objects.create(title="市役所の外観", file=get_test_image_file())
    assert [i.pk for i in Image.objects.search("大船渡湾")] == [image.pk]
    assert [i.pk for i in Image.objects.search("風景")] == [image.pk]  # a tag (RelatedFields)
    assert [i.pk for i in Image.objects.autocomplete("夕焼")] == [image.pk]


def test_spelling_variants_find_each_other(publish: Publish) -> None:
    publish("児童手当の申込み", "<p>こどもが生まれたら申込書を出してください。問合せは子育て支援課へ。</p>")
    for query in ("児童手当の申し込み", "子供", "問い合わせ", "子ども"):
        assert titles(Page.objects.live().search(query)) == ["児童手当の申込み"], query


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_writers_never_wait_for_each_other(publish: Publish) -> None:
    """Index writes hold no lock another writer needs (no deadlock with, e.g., the operation log's)."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite runs one writer at a time")
    from django.db import connections, transaction

    first, second = publish("防災訓練", "<p>訓練</p>"), publish("防災無線", "<p>無線</p>")
    index = search_backend.JapaneseIndex(get_search_backend(), Page)
    barrier = threading.Barrier(2, timeout=10)
    errors: list[BaseException] = []

    def writer(indexed: StandardPage, locked: StandardPage, index_first: bool) -> None:
        try:
            with transaction.atomic():
                if index_first:
                    index.add_items(StandardPage, [indexed])
                    barrier.wait()
                    Page.objects.select_for_update().get(pk=locked.pk)
                else:
                    Page.objects.select_for_update().get(pk=locked.pk)
                    barrier.wait()
                    index.add_items(StandardPage, [indexed])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=writer, args=(first, second, True)),
        threading.Thread(target=writer, args=(second, second, False)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors
    assert set(titles(Page.objects.search("防災"))) == {"防災訓練", "防災無線"}
