"""Pieces of ホームページ取り込み without a server: characters, main text, titles, dates, URLs, sitemaps,
the scope of a source and the answer's LINE messages."""

from __future__ import annotations

import gzip
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from deliveries.blocks import MessageStreamBlock, utf16_len
from scraper import extract, services
from scraper.fetch import Site, canonical_url, ungzip
from tests.scraper.conftest import SITE

JAPAN = ZoneInfo("Asia/Tokyo")


# --- characters -----------------------------------------------------------------------------------


def test_shift_jis_is_read_from_the_header_the_meta_or_the_bytes() -> None:
    header_only = (SITE / "kurashi" / "bousai.html").read_bytes()
    text, encoding = extract.decode_html(header_only, http_charset="Shift_JIS")
    assert "指定避難所の一覧" in text and encoding == "cp932"

    meta = (SITE / "kurashi" / "sodai.html").read_bytes()
    text, encoding = extract.decode_html(meta)
    assert "①から③" in text and encoding == "cp932"  # cp932: Windows' characters such as ① too

    undeclared = (SITE / "kosodate" / "hoiku.html").read_bytes()
    assert "保育所の入所申し込み" in extract.decode_html(undeclared)[0]

    utf8 = (SITE / "kurashi" / "gomi.html").read_bytes()
    assert "家庭ごみの出し方" in extract.decode_html(utf8, http_charset="ISO-8859-1")[0]  # server default
    euc = "<html><head><title>お知らせ</title></head><body>市の情報</body></html>".encode("euc-jp")
    assert "市の情報" in extract.decode_html(euc)[0]


# --- the page ---------------------------------------------------------------------------------------


def test_main_text_leaves_the_furniture_and_keeps_lines() -> None:
    markup = (SITE / "kurashi" / "gomi.html").read_text(encoding="utf-8")
    page = extract.extract(markup, url="https://www.city.example.jp/kurashi/gomi.html")
    assert page.title == "家庭ごみの出し方"
    assert page.text.splitlines() == [
        "家庭から出るごみは、分別して、決められた曜日の朝8時30分までに集積所へ出してください。",
        "燃やすごみ",
        "・生ごみ",
        "・紙くず",
        "資源ごみ",
        "びん・缶・ペットボトルは、中を軽くすすいでから出してください。",
        "地区 収集日",
        "東地区 月曜日・木曜日",
    ]
    assert page.headings == ["燃やすごみ", "資源ごみ"]
    assert page.modified == datetime(2025, 4, 1, 9, 0, tzinfo=JAPAN)
    assert "https://www.city.example.jp/kurashi/" in page.links  # links come from the whole page
    assert "https://www.city.example.jp/kanko/index.html" in page.links
    assert not page.noindex


@pytest.mark.parametrize(
    ("markup", "title"),
    [
        (
            "<title>ごみの出し方 | 大船渡市</title><body><h1><img alt='大船渡市'></h1><p>本文</p></body>",
            "ごみの出し方",
        ),
        (
            "<title>ごみ</title><body><header><h1>市のロゴ</h1></header><main><h1>ごみの日</h1>x</main>",
            "ごみの日",
        ),
        ("<title>検診 - 健康 - 大船渡市</title><body>x</body>", "検診"),
        ("<meta property='og:title' content='防災メール／大船渡市'><body>x</body>", "防災メール"),
        ("<body><h1>見出しだけ</h1></body>", "見出しだけ"),
    ],
)
def test_title_without_the_site_name(markup: str, title: str) -> None:
    assert extract.extract(markup, url="http://h/").title == title


def test_noise_by_role_class_id_and_hidden() -> None:
    markup = """<body><div id="content">
        <div role="navigation">ナビ</div><div class="l-side">サイド</div><div id="breadcrumbs">パンくず</div>
        <div class="page-top">ページの先頭へ</div><p hidden>隠し</p><div aria-hidden="true">飾り</div>
        <div class="inside-box">残す本文</div><!-- コメント --></div></body>"""
    page = extract.extract(markup, url="http://h/")
    assert page.text == "残す本文"


def test_robots_meta_noindex_and_nofollow() -> None:
    page = extract.extract(
        "<meta name='robots' content='noindex, nofollow'><body><a href='/a'>a</a>x</body>", url="http://h/"
    )
    assert page.noindex and page.nofollow and page.links == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("更新日：令和元年5月1日", datetime(2019, 5, 1, tzinfo=JAPAN)),
        ("最終更新日 平成31年4月30日", datetime(2019, 4, 30, tzinfo=JAPAN)),
        ("掲載日：２０２４年１２月３日", datetime(2024, 12, 3, tzinfo=JAPAN)),
        ("更新 2024/7/8 担当", datetime(2024, 7, 8, tzinfo=JAPAN)),
        ("2024年1月1日のお知らせ（日付の言葉なし）", None),
        ("更新日：2024年2月30日", None),
    ],
)
def test_dates_written_in_the_page(text: str, expected: datetime | None) -> None:
    assert extract.extract(f"<body><main><p>{text}</p></main></body>", url="http://h/").modified == expected


def test_http_last_modified_comes_after_the_page_s_own_date() -> None:
    header = "Wed, 05 Mar 2025 01:00:00 GMT"
    assert extract.extract("<body>x</body>", url="http://h/", http_last_modified=header).modified == datetime(
        2025, 3, 5, 10, 0, tzinfo=JAPAN
    )
    dated = extract.extract(
        "<body><p>更新日：2025年1月2日</p></body>", url="http://h/", http_last_modified=header
    )
    assert dated.modified == datetime(2025, 1, 2, tzinfo=JAPAN)


def test_summary_keeps_whole_lines_then_cuts_at_a_sentence() -> None:
    text = "短い一行目。\n" + "長い文です。" * 300
    summary = extract.summarize(text, limit=100)
    assert summary.startswith("短い一行目。\n長い文です。")
    assert summary.endswith("。…") and len(summary) <= 102
    assert extract.summarize("全部入ります。", limit=100) == "全部入ります。"
    assert extract.summarize("一\n二\n三", limit=3) == "一\n二…"


# --- URLs and the scope of a source -------------------------------------------------------------------


def test_canonical_url() -> None:
    assert canonical_url("/kurashi/ごみ.html#top", "https://WWW.City.example.jp:443/a/") == (
        "https://www.city.example.jp/kurashi/%E3%81%94%E3%81%BF.html"
    )
    assert canonical_url("b.html?id=3", "http://h:8080/a/") == "http://h:8080/a/b.html?id=3"
    assert canonical_url("https://h") == "https://h/"
    for bad in ("mailto:a@b.jp", "javascript:alert(1)", "ftp://h/x", "http://user:pw@h/", "tel:0192"):
        assert canonical_url(bad, "http://h/") is None, bad


def test_site_is_one_host_and_port() -> None:
    site = Site.of("http://127.0.0.1:8001/sitemap.xml")
    assert site.contains("http://127.0.0.1:8001/a")
    assert not site.contains("http://127.0.0.1:8002/a")
    assert not site.contains("http://localhost:8001/a")
    assert not site.contains("http://127.0.0.1.evil.example:8001/a")
    city = Site.of("http://www.city.example.jp/")
    assert city.contains("https://www.city.example.jp/a")  # moved to https on the same host
    assert not Site.of("https://www.city.example.jp/").contains("http://www.city.example.jp/a")
    assert not city.contains("http://city.example.jp/a")


def test_scope_sections_exclusions_and_files(db: None) -> None:
    from scraper.models import ScrapeSource

    source = ScrapeSource(
        name="x",
        start_url="https://www.city.example.jp/",
        sections="/kurashi/\n/bousai/",
        exclude_patterns="/kurashi/old/\n*print=1*\n/kurashi/ごみ/*.html",
    )
    scope = services.Scope(source)
    assert scope.follows("https://www.city.example.jp/kurashi/a.html")
    assert scope.follows("https://www.city.example.jp/bousai/")
    assert not scope.follows("https://www.city.example.jp/kanko/a.html")
    assert not scope.follows("https://www.city.example.jp/kurashi/old/a.html")
    assert not scope.follows("https://www.city.example.jp/kurashi/a.html?print=1")
    assert not scope.follows(canonical_url("https://www.city.example.jp/kurashi/ごみ/a.html") or "")
    assert not scope.follows("https://www.city.example.jp/kurashi/a.pdf")
    assert not scope.follows("https://other.example.jp/kurashi/a.html")


def test_source_settings_are_checked(db: None) -> None:
    from wagtail.models import Page

    from scraper.models import ScrapeSource

    with pytest.raises(ValidationError) as nothing:
        ScrapeSource(name="x").full_clean()
    assert "start_url" in nothing.value.message_dict
    with pytest.raises(ValidationError) as mixed:
        ScrapeSource(
            name="x",
            sitemap_url="https://a.example.jp/sitemap.xml",
            start_url="https://b.example.jp/",
            sections="kurashi/",
            parent_page=Page.get_first_root_node(),
        ).full_clean()
    assert set(mixed.value.message_dict) == {"start_url", "sections", "parent_page"}
    ScrapeSource(name="x", sitemap_url="https://a.example.jp/sitemap.xml").full_clean()


# --- sitemaps ---------------------------------------------------------------------------------------


def test_sitemaps_index_cdata_entities_text_and_gzip() -> None:
    index = b"""<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
        <sitemap><loc>https://h/s1.xml</loc></sitemap><sitemap><loc><![CDATA[https://h/s2.xml]]></loc></sitemap>
        </sitemapindex>"""
    assert extract.sitemap_urls(index) == (["https://h/s1.xml", "https://h/s2.xml"], True)
    urlset = b"<urlset><url><loc> https://h/a?x=1&amp;y=2 </loc></url></urlset>"
    assert extract.sitemap_urls(urlset) == (["https://h/a?x=1&y=2"], False)
    assert extract.sitemap_urls(b"https://h/a\nhttps://h/b\n") == (["https://h/a", "https://h/b"], False)
    assert ungzip(gzip.compress(urlset)) == urlset
    with pytest.raises(ValueError):
        ungzip(gzip.compress(b"x" * 1000), cap=10)


# --- the answer -------------------------------------------------------------------------------------


def _valid(body: list[dict[str, Any]]) -> None:
    block = MessageStreamBlock()
    block.clean(block.to_python(body))  # what the page editor would accept


def test_answer_is_a_summary_and_a_card_with_a_button_for_https_pages() -> None:
    title = "とても長いタイトルのページで、カードのタイトルの上限を超えてしまうほどの長さがある場合の例です"
    body = services.answer_body(
        title=title,
        text="本文です。\n" * 400,
        url="https://www.city.example.jp/kurashi/a.html",
        modified=datetime(2025, 4, 1, tzinfo=JAPAN),
    )
    assert [block["type"] for block in body] == ["text", "card"]
    assert len(body[0]["value"]) <= extract.SUMMARY_CHARS + 1 and body[0]["value"].endswith("…")
    card = body[1]["value"]
    assert utf16_len(card["title"]) <= 40 and card["title"].endswith("…")
    assert card["body"] == "市のホームページの内容です（2025年4月1日更新）。"
    button = card["buttons"][0]["value"]
    assert (button["label"], button["action"], button["url"]) == (
        "詳しくはホームページへ",
        "url",
        "https://www.city.example.jp/kurashi/a.html",
    )
    _valid(body)


def test_answer_for_an_http_page_gives_the_address_as_text() -> None:
    body = services.answer_body(title="ごみ", text="分別してください。", url="http://h/a.html", modified=None)
    assert [block["value"] for block in body] == [
        "分別してください。",
        "詳しくはホームページへ\nhttp://h/a.html",
    ]
    _valid(body)
