"""The public site search (/search/?query=…)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.test import Client

from search.views import excerpt

Publish = Callable[..., Any]


def test_search_page_lists_results_with_links_and_excerpts(client: Client, publish: Publish) -> None:
    sodai = publish(
        "粗大ごみの出し方",
        "<p>家庭から出る大きなごみは、電話で申し込んでから粗大ごみ処理券を貼って出してください。</p>",
    )
    publish("クマの出没情報", "<p>クマを見かけたら連絡してください。</p>")
    publish("粗大ごみ（下書き）", "<p>粗大ごみ</p>", live=False)
    response = client.get("/search/", {"query": "粗大ごみの出し方を教えて"})
    assert response.status_code == 200
    html = response.content.decode()
    assert f'href="{sodai.url}"' in html and "粗大ごみの出し方" in html
    assert "<mark>粗大ごみ</mark>処理券" in html
    assert "クマの出没情報" not in html and "下書き" not in html
    assert "1件" in html


def test_no_results_message(client: Client, publish: Publish) -> None:
    publish("クマの出没情報", "<p>クマ</p>")
    response = client.get("/search/", {"query": "パスポート"})
    assert response.status_code == 200
    assert "「パスポート」に一致するページは見つかりませんでした。" in response.content.decode()


def test_empty_query_shows_the_form_only(client: Client, db: None) -> None:
    response = client.get("/search/")
    assert response.status_code == 200
    assert 'name="query"' in response.content.decode() and "件あります" not in response.content.decode()


def test_pagination(client: Client, publish: Publish) -> None:
    for n in range(12):
        publish(f"防災のお知らせ{n:02d}", "<p>防災</p>")
    first = client.get("/search/", {"query": "防災"}).content.decode()
    assert "12件" in first and "1 / 2ページ" in first and "page=2" in first and first.count("<li>") == 10
    second = client.get("/search/", {"query": "防災", "page": "2"}).content.decode()
    assert second.count("<li>") == 2 and "page=1" in second
    seen = {line for line in (first + second).splitlines() if "防災のお知らせ" in line and "href" in line}
    assert len(seen) == 12


def test_query_text_is_escaped(client: Client, publish: Publish) -> None:
    publish("<b>太字</b>の案内", "<p>&lt;script&gt;</p>")
    html = client.get("/search/", {"query": "<script>alert(1)</script>案内"}).content.decode()
    assert "<script>alert(1)</script>" not in html and "&lt;b&gt;太字&lt;/b&gt;" in html


def test_excerpt_centres_on_the_first_term(publish: Publish) -> None:
    page = publish(
        "案内", "<p>" + "あいうえお。" * 40 + "ゴミの日は火曜日です。" + "かきくけこ。" * 40 + "</p>"
    )
    text = str(excerpt(page.specific, "ごみ"))
    assert "<mark>ゴミ</mark>の日は火曜日です。" in text
    assert text.startswith("…") and text.endswith("…")
