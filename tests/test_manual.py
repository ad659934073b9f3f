"""The in-system manual (spec §6(2)①): docs/manual/*.md inside the admin, its search, and the
public login help linked from the login and two-factor screens."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup
from django.test import Client, RequestFactory
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from kairan.manual import pages
from kairan.manual.help import manual_url
from kairan.manual.search import search
from kairan.staff.roles import ADMIN, ROLES, VIEWER
from tests.conftest import totp_code

DOCS = Path(__file__).resolve().parent.parent / "docs" / "manual"
EXPECTED_ORDER = [
    "login",
    "staff",
    "oplog",
    "line-settings",
    "followers",
    "forms",
    "residents",
    "privacy",
    "deliveries",
    "delivery-test",
    "delivery-approval",
    "delivery-schedule",
    "delivery-history",
    "richmenus",
    "richmenu-tabs",
    "richmenu-images",
    "emergency",
    "emergency-rehearsal",
    "chatbot",
    "chatbot-keywords",
    "chatbot-free-text",
    "scraper",
    "emulator",
    "manual",
]


def soup_of(response: Any) -> BeautifulSoup:
    return BeautifulSoup(response.content.decode(), "html.parser")


@pytest.fixture
def viewer(client: Client, make_staff: Any) -> Client:
    """A signed-in 閲覧者 (no authenticator: 閲覧者 are not forced to two-factor)."""
    client.force_login(make_staff("etsuran", VIEWER))
    return client


def sign_in_with_role(client: Client, make_staff: Any, role: str) -> Any:
    user = make_staff(f"user-{ROLES.index(role)}", role, superuser=role == ADMIN)
    client.force_login(user)
    if role == ADMIN:  # システム管理者 pass the second factor first.
        TOTPDevice.objects.create(user=user, name="認証アプリ", confirmed=True)
        response = client.post(reverse("kairan_mfa_verify"), {"token": totp_code(user), "next": "/admin/"})
        assert response.status_code == 302, response.content.decode()
    return user


# --- The pages in docs/manual ----------------------------------------------------


def test_every_manual_file_has_title_and_order_and_only_login_is_public() -> None:
    loaded = pages.all_pages()
    assert [page.slug for page in loaded] == EXPECTED_ORDER
    assert sorted(path.stem for path in DOCS.glob("*.md")) == sorted(EXPECTED_ORDER)
    assert {page.slug for page in loaded if page.public} == {"login"}
    for page in loaded:
        assert page.title and page.toc, page.slug
        assert "title:" not in page.html and "order:" not in page.html


def test_links_between_manual_pages_reach_existing_headings() -> None:
    prefix = reverse("kairan_manual:index")
    for page in pages.all_pages():
        for link in BeautifulSoup(page.html, "html.parser").find_all("a", href=True):
            href = str(link["href"])
            assert not href.endswith(".md") and ".md#" not in href, (page.slug, href)
            if not href.startswith(prefix):
                continue
            slug, _, anchor = href[len(prefix) :].partition("/#")
            target = pages.get_page(slug.rstrip("/"))
            assert target is not None, (page.slug, href)
            if anchor:
                assert f'id="{anchor}"' in target.html, (page.slug, href)


def test_loader_reads_meta_orders_pages_and_caches_by_mtime(settings: Any, tmp_path: Path) -> None:
    settings.BASE_DIR = tmp_path
    manual = tmp_path / "docs" / "manual"
    manual.mkdir(parents=True)
    (manual / "second.md").write_text("title: 二番目\norder: 20\n\n## 見出し A\n\n本文。\n", encoding="utf-8")
    first = manual / "first.md"
    first.write_text(
        "title: 一番目\norder: 5\npublic: yes\n\n前書き。\n続き。\n\n"
        "## 手順\n\n1. 押す\n2. 見る\n\n### 詳しく\n\n"
        "| 列 | 値 |\n| --- | --- |\n| a | b |\n\n```\n# not a heading\n```\n\n[次へ](second.md#見出し-a)\n",
        encoding="utf-8",
    )
    loaded = pages.all_pages()
    assert [(p.slug, p.title, p.order, p.public) for p in loaded] == [
        ("first", "一番目", 5, True),
        ("second", "二番目", 20, False),
    ]
    page = loaded[0]
    assert [(h.id, h.title, [c.title for c in h.children]) for h in page.toc] == [
        ("手順", "手順", ["詳しく"])
    ]
    assert '<h2 id="手順">' in page.html and "<table>" in page.html and "<ol>" in page.html
    assert "<pre><code># not a heading" in page.html
    assert "<p>前書き。続き。</p>" in page.html  # wrapped Japanese lines join without a space
    assert f'href="{manual_url("second")}#見出し-a"' in page.html
    assert [(s.anchor, s.title) for s in page.sections] == [
        ("", "一番目"),
        ("手順", "手順"),
        ("詳しく", "詳しく"),
    ]

    assert pages.get_page("first") is page  # cached
    first.write_text("title: 改訂\norder: 30\n\n本文。\n", encoding="utf-8")
    stat = first.stat()
    os.utime(first, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert pages.get_page("first").title == "改訂"  # type: ignore[union-attr]
    assert [p.slug for p in pages.all_pages()] == ["second", "first"]

    assert pages.get_page("missing") is None
    assert pages.get_page("../settings") is None
    (manual / "broken.md").write_text("order: x\n\n本文\n", encoding="utf-8")
    with pytest.raises(pages.ManualError, match=r"broken\.md"):
        pages.get_page("broken")
    (manual / "search.md").write_text("title: 検索\norder: 1\n", encoding="utf-8")
    with pytest.raises(pages.ManualError, match=r"search\.md"):  # /admin/manual/search/ is the search screen
        pages.parse(manual / "search.md")


def test_search_ignores_case_and_width_and_escapes_text(settings: Any, tmp_path: Path) -> None:
    settings.BASE_DIR = tmp_path
    manual = tmp_path / "docs" / "manual"
    manual.mkdir(parents=True)
    (manual / "a.md").write_text(
        "title: A\norder: 1\n\n## 出力\n\nCSV は <b>表</b> &amp; 計算式に注意。\n\n"
        "## 別\n\n関係ない `x<y` です。\n",
        encoding="utf-8",
    )
    results = search("ｃｓｖ 計算式")
    assert [(r.page.slug, r.section.anchor) for r in results] == [("a", "出力")]
    assert str(results[0].snippet) == "<mark>CSV</mark> は 表 &amp; <mark>計算式</mark>に注意。"
    assert search("csv 関係ない") == []  # every word must be in the same section
    assert search("   ") == []
    assert str(search("X<Y")[0].snippet) == "関係ない <mark>x&lt;y</mark> です。"


# --- Inside the admin --------------------------------------------------------------


def test_viewer_sees_the_index_with_every_page_in_order(viewer: Client) -> None:
    response = viewer.get("/admin/manual/")
    assert response.status_code == 200
    soup = soup_of(response)
    assert soup.select_one("#wagtail-sidebar") is not None  # the admin layout, with the sidebar
    titles = [a.get_text(strip=True) for a in soup.select(".kairan-manual-contents__title")]
    assert titles == [pages.get_page(slug).title for slug in EXPECTED_ORDER]  # type: ignore[union-attr]
    assert titles[0] == "ログインと二要素認証"
    headings = [a["href"] for a in soup.select(".kairan-manual-contents__headings a")]
    assert "/admin/manual/oplog/#改ざんされていないことの確認" in headings
    form = soup.select_one("form[role=search]")
    assert form is not None and form["action"] == "/admin/manual/search/"
    assert form.select_one("input[name=q]") is not None and soup.select_one("label[for=kairan-manual-q]")


def test_viewer_reads_a_page_with_its_toc_and_neighbours(viewer: Client) -> None:
    response = viewer.get(reverse("kairan_manual:page", args=["staff"]))
    assert response.status_code == 200
    soup = soup_of(response)
    assert soup.select_one("#wagtail-sidebar") is not None
    assert soup.select_one("h1.kairan-manual__title").get_text(strip=True) == "職員と権限"  # type: ignore[union-attr]
    toc = [a["href"] for a in soup.select("nav.kairan-manual-toc a[href^='#']")]
    assert "#4つの役割" in toc and "#公開までの流れ承認" in toc
    for anchor in toc:
        assert soup.find(id=str(anchor)[1:]) is not None, anchor
    assert soup.select_one(".kairan-manual-content h2#部署") is not None
    assert soup.select_one("a[rel=prev]")["href"] == "/admin/manual/login/"  # type: ignore[index]
    assert soup.select_one("a[rel=next]")["href"] == "/admin/manual/oplog/"  # type: ignore[index]
    assert soup.select_one(".kairan-manual-pager a[href='/admin/manual/']") is not None

    first = soup_of(viewer.get("/admin/manual/login/"))
    assert first.select_one("a[rel=prev]") is None and first.select_one("a[rel=next]") is not None
    last = soup_of(viewer.get("/admin/manual/manual/"))
    assert last.select_one("a[rel=next]") is None and last.select_one("a[rel=prev]") is not None


def test_search_finds_a_word_from_the_operation_log_page(viewer: Client) -> None:
    response = viewer.get(reverse("kairan_manual:search"), {"q": "ハッシュ"})
    assert response.status_code == 200
    soup = soup_of(response)
    results = soup.select(".kairan-manual-result")
    assert results, response.content.decode()
    first = results[0]
    assert first.select_one(".kairan-manual-result__page").get_text(strip=True) == "操作ログとアクセスログ"  # type: ignore[union-attr]
    link = first.select_one(".kairan-manual-result__section a")
    assert link is not None and link["href"] == "/admin/manual/oplog/#改ざんされていないことの確認"
    assert first.select("mark")[0].get_text() == "ハッシュ"
    assert "か所で見つかりました" in soup.select_one(".kairan-manual-results").get_text()  # type: ignore[union-attr]


def test_search_is_case_insensitive(viewer: Client) -> None:
    soup = soup_of(viewer.get("/admin/manual/search/", {"q": "verify_OPLOG"}))
    assert "verify_oplog" in [m.get_text() for m in soup.select(".kairan-manual-result mark")]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "検索する言葉を入力して"),
        ("　 ", "検索する言葉を入力して"),
        ("存在しない言葉ｘｙｚ", "を含む説明は見つかりませんでした"),
    ],
)
def test_search_explains_empty_queries_and_no_results(viewer: Client, query: str, message: str) -> None:
    response = viewer.get("/admin/manual/search/", {"q": query})
    assert response.status_code == 200
    soup = soup_of(response)
    assert message in soup.select_one(".kairan-manual-results").get_text()  # type: ignore[union-attr]
    assert soup.select(".kairan-manual-result") == []


def test_unknown_page_is_404(viewer: Client) -> None:
    assert viewer.get("/admin/manual/no-such-page/").status_code == 404


@pytest.mark.parametrize("role", ROLES)
def test_every_role_can_read_the_manual(client: Client, make_staff: Any, role: str) -> None:
    sign_in_with_role(client, make_staff, role)
    assert client.get("/admin/manual/").status_code == 200
    assert client.get("/admin/manual/oplog/").status_code == 200
    assert client.get("/admin/manual/search/", {"q": "ログ"}).status_code == 200


def test_help_button_on_the_users_screen_opens_the_staff_page(client: Client, make_staff: Any) -> None:
    sign_in_with_role(client, make_staff, ADMIN)
    soup = soup_of(client.get("/admin/users/"))
    button = soup.select_one("[data-kairan-help=staff]")
    assert button is not None and button["href"] == manual_url("staff") == "/admin/manual/staff/"


def test_manual_is_in_the_admin_menu(viewer: Client) -> None:
    from wagtail.admin.menu import admin_menu

    request = RequestFactory().get("/admin/")
    request.user = viewer.get("/admin/").wsgi_request.user
    items = {item.name: item for item in admin_menu.menu_items_for_request(request)}
    item = items["manual"]
    assert (item.label, item.url, item.icon_name) == ("マニュアル", "/admin/manual/", "help")
    assert item.order >= 10000  # low in the menu, beside 設定 and ヘルプ
    # ... and the sidebar of an admin screen carries it.
    sidebar = soup_of(viewer.get("/admin/")).select_one("#wagtail-sidebar-props")
    assert sidebar is not None and '"/admin/manual/"' in sidebar.get_text()


# --- Not signed in ----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/admin/manual/", "/admin/manual/login/", "/admin/manual/search/?q=a"])
def test_anonymous_users_are_sent_to_the_login_from_the_admin_manual(
    client: Client, db: None, path: str
) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_anonymous_users_can_read_the_public_login_help(client: Client, db: None) -> None:
    response = client.get(reverse("kairan_manual_public:page", args=["login"]))
    assert response.status_code == 200
    html = response.content.decode()
    assert re.search(r'<html lang="ja">', html)
    soup = soup_of(response)
    assert soup.select_one("h1").get_text(strip=True) == "ログインと二要素認証"  # type: ignore[union-attr]
    assert soup.select_one("h2#スマートフォンをなくしたとき機種を変えたとき") is not None
    assert soup.select_one("#wagtail-sidebar") is None and soup.select("script") == []
    assert soup.select_one("a[href='/admin/login/']") is not None
    assert "Content-Security-Policy" in response


@pytest.mark.parametrize("slug", ["staff", "oplog", "no-such-page"])
def test_only_public_pages_are_served_without_login(client: Client, db: None, slug: str) -> None:
    assert client.get(f"/manual/{slug}/").status_code == 404


def test_login_and_two_factor_screens_link_to_the_public_login_help(client: Client, make_staff: Any) -> None:
    help_url = reverse("kairan_manual_public:page", args=["login"])
    assert help_url == "/manual/login/"
    login = soup_of(client.get("/admin/login/"))
    assert login.select_one(f".kairan-auth-help a[href='{help_url}']") is not None

    client.force_login(make_staff("kanri", ADMIN, superuser=True))
    setup = client.get("/admin/mfa/setup/")
    assert setup.status_code == 200
    assert soup_of(setup).select_one(f".kairan-auth-help a[href='{help_url}']") is not None
    # The public page is readable in the middle of two-factor setup (the admin one is not yet).
    assert client.get(help_url).status_code == 200
