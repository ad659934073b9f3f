"""ホームページ取り込み end to end against the fictional site: sitemap and crawl, changes, removals,
robots.txt, encodings, limits, moderation, the Django-Q tasks and two runs at once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any
from unittest import mock
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from wagtail.models import Page, Revision

from chatbot.models import AnswerPage
from scraper import services, tasks
from scraper.models import Action, ScrapedPage, ScrapeRun, ScrapeSource
from tests.scraper.conftest import FakeSite, Reply

pytestmark = pytest.mark.django_db

JAPAN = ZoneInfo("Asia/Tokyo")
FURNITURE = (
    "くらしの情報メニュー",
    "パンくず",
    "みなと市役所ロゴ",
    "代表電話",
    "サイト内検索",
    "関連リンク",
    "よく見られている",
    "シェアするボタン",
    "追跡用",
    "secretTracker",
    "display: none",
)
TITLES = {
    "/kurashi/gomi.html": "家庭ごみの出し方",
    "/kurashi/sodai.html": "粗大ごみの申し込み",
    "/kurashi/bousai.html": "指定避難所の一覧",
    "/kosodate/hoiku.html": "保育所の入所申し込み",
    "/kurashi/henkou.html": "市民課窓口の受付時間",
    "/kurashi/kieru.html": "臨時窓口の開設",
    "/kurashi/owari.html": "令和6年度の事業のお知らせ",
    "/kanko/index.html": "観光案内",
}


def answer(site: FakeSite, path: str) -> AnswerPage:
    scraped = ScrapedPage.objects.get(url=site.base + path)
    assert scraped.page_id is not None
    return AnswerPage.objects.get(pk=scraped.page_id)


def texts(page: AnswerPage) -> list[str]:
    return [str(child.value) for child in page.body if child.block_type == "text"]


def lines(run: ScrapeRun) -> dict[str, tuple[str, str]]:
    """URL path → (action, reason) of a run's lines."""
    return {urlsplit(line.url).path: (line.action, line.reason) for line in run.lines.order_by("pk")}


def counts(run: ScrapeRun) -> dict[str, int]:
    return run.counts()


def revisions(page: AnswerPage) -> int:
    return Revision.page_revisions.filter(object_id=str(page.pk)).count()


# --- the first run from the sitemap ---------------------------------------------------------------


def test_first_run_creates_a_published_answer_per_page(
    make_source: Callable[..., ScrapeSource], city_site: FakeSite, other_site: FakeSite
) -> None:
    source = make_source()
    run = services.run_sync(source_id=source.pk, trigger=ScrapeRun.Trigger.SCHEDULE)

    assert run.status == ScrapeRun.Status.FINISHED, run.message
    assert counts(run) == {
        "created": 8,
        "updated": 0,
        "unchanged": 0,
        "unpublished": 0,
        "skipped": 1,
        "errors": 0,
    }
    assert run.started_at is not None and run.finished_at is not None
    # The 「ホームページ」 section was made under the site's root page (unpublished: a folder).
    section = AnswerPage.objects.get(slug=services.SECTION_SLUG)
    assert section.title == "ホームページ" and not section.live
    assert section.get_parent().pk == Page.objects.get(depth=2).pk
    source.refresh_from_db()
    assert source.parent_page_id == section.pk and source.current_run_id is None

    for path, title in TITLES.items():
        page = answer(city_site, path)
        assert page.title == title, path
        assert page.live and not page.has_unpublished_changes
        assert page.get_parent().pk == section.pk
        assert page.source_url == city_site.base + path
        body = texts(page)
        assert (
            len(body) == 2 and body[1] == f"詳しくはホームページへ\n{city_site.base}{path}"
        )  # http: no button
        for word in FURNITURE:
            assert word not in body[0], (path, word)

    gomi = texts(answer(city_site, "/kurashi/gomi.html"))[0]
    assert gomi.startswith("家庭から出るごみは、分別して、決められた曜日")  # inline markup joins
    assert "・生ごみ" in gomi and "東地区 月曜日・木曜日" in gomi
    assert "家庭ごみの出し方" not in gomi  # the title is the page's title, not repeated
    assert answer(city_site, "/kurashi/gomi.html").phrasings == "燃やすごみ\n資源ごみ"
    # Shift_JIS declared in <meta>, only in the HTTP header, and not at all (detected).
    assert "手数料は1点につき500円です。①から③の順に" in texts(answer(city_site, "/kurashi/sodai.html"))[0]
    assert "みなと小学校 体育館" in texts(answer(city_site, "/kurashi/bousai.html"))[0]
    assert "子育て支援課の窓口" in texts(answer(city_site, "/kosodate/hoiku.html"))[0]

    # When each page was last updated: <meta>, a 令和 date in the page, the HTTP header.
    assert answer(city_site, "/kurashi/gomi.html").source_modified == datetime(2025, 4, 1, 9, 0, tzinfo=JAPAN)
    assert answer(city_site, "/kurashi/sodai.html").source_modified == datetime(2025, 3, 15, tzinfo=JAPAN)
    assert answer(city_site, "/kurashi/henkou.html").source_modified == datetime(2025, 1, 10, tzinfo=JAPAN)
    assert answer(city_site, "/kurashi/bousai.html").source_modified == datetime(
        2025, 3, 5, 10, 0, tzinfo=JAPAN
    )

    # robots.txt first; /private/ never asked; no file (PDF); nothing asked of the other site.
    assert city_site.paths()[0] == "/robots.txt"
    assert city_site.count("/private/himitsu.html") == 0
    assert city_site.count("/kurashi/chirashi.pdf") == 0
    assert other_site.requests == []
    assert lines(run)["/private/himitsu.html"] == (Action.SKIPPED, "robots.txt で読むことが禁止されています")
    assert all("KairanBot" in headers["user-agent"] for headers in city_site.headers_seen)


def test_second_run_updates_changed_pages_unpublishes_removed_ones_and_leaves_the_rest(
    make_source: Callable[..., ScrapeSource], city_site: FakeSite
) -> None:
    source = make_source()
    services.run_sync(source_id=source.pk)
    before = {path: revisions(answer(city_site, path)) for path in TITLES}

    city_site.version = 2  # 受付時間 changed; owari.html left the sitemap
    city_site.gone.add("/kurashi/kieru.html")  # 404
    city_site.requests.clear()
    run = services.run_sync(source_id=source.pk)

    assert run.status == ScrapeRun.Status.FINISHED, run.message
    assert counts(run) == {
        "created": 0,
        "updated": 1,
        "unchanged": 5,
        "unpublished": 2,
        "skipped": 1,
        "errors": 0,
    }
    changed = answer(city_site, "/kurashi/henkou.html")
    assert changed.live and revisions(changed) == before["/kurashi/henkou.html"] + 1
    assert "毎週木曜日は午後7時まで" in texts(changed)[0]
    assert changed.source_modified == datetime(2025, 3, 21, tzinfo=JAPAN)
    for path in ("/kurashi/gomi.html", "/kurashi/sodai.html", "/kosodate/hoiku.html", "/kanko/index.html"):
        assert revisions(answer(city_site, path)) == before[path], path  # unchanged: no new revision
    # The page with Last-Modified was asked conditionally and answered 304.
    assert lines(run)["/kurashi/bousai.html"] == (Action.UNCHANGED, "更新されていません（HTTP 304）")
    assert revisions(answer(city_site, "/kurashi/bousai.html")) == before["/kurashi/bousai.html"]

    removed = answer(city_site, "/kurashi/kieru.html")
    assert not removed.live and lines(run)["/kurashi/kieru.html"][0] == Action.UNPUBLISHED
    assert "HTTP 404" in lines(run)["/kurashi/kieru.html"][1]
    unlisted = answer(city_site, "/kurashi/owari.html")
    assert not unlisted.live and lines(run)["/kurashi/owari.html"][0] == Action.UNPUBLISHED
    assert city_site.count("/kurashi/owari.html") == 0  # not listed: not read, just unpublished
    assert (
        ScrapedPage.objects.get(url=city_site.base + "/kurashi/owari.html").status == ScrapedPage.Status.GONE
    )
    assert AnswerPage.objects.filter(pk=unlisted.pk).exists()  # never deleted

    # It comes back: published again.
    city_site.gone.clear()
    third = services.run_sync(source_id=source.pk)
    assert lines(third)["/kurashi/kieru.html"][0] == Action.UPDATED
    assert answer(city_site, "/kurashi/kieru.html").live


def test_moderation_mode_submits_revisions_instead_of_publishing(
    make_source: Callable[..., ScrapeSource], city_site: FakeSite
) -> None:
    source = make_source(auto_publish=False)
    run = services.run_sync(source_id=source.pk)
    assert run.created_count == 8
    page = answer(city_site, "/kurashi/gomi.html")
    assert not page.live
    assert page.workflow_in_progress
    state = page.current_workflow_state
    assert state is not None and state.requested_by is None
    assert state.current_task_state.revision_id == page.latest_revision_id
    assert "承認を依頼しました" in lines(run)["/kurashi/gomi.html"][1]

    # A change while waiting: a new revision in the same workflow, still not live.
    city_site.version = 2
    second = services.run_sync(source_id=source.pk)
    changed = answer(city_site, "/kurashi/henkou.html")
    assert lines(second)["/kurashi/henkou.html"][0] == Action.UPDATED
    assert not changed.live and changed.workflow_in_progress
    assert "毎週木曜日" in texts(changed.get_latest_revision_as_object())[0]


def test_staff_decisions_are_kept(
    make_source: Callable[..., ScrapeSource], city_site: FakeSite, make_staff: Callable[..., Any]
) -> None:
    source = make_source()
    services.run_sync(source_id=source.pk)
    staff = make_staff("tantou", superuser=True)
    # Staff add their own phrasings to one answer and unpublish another.
    gomi = answer(city_site, "/kurashi/gomi.html").get_latest_revision_as_object()
    gomi.phrasings = "ごみはいつ出すの"
    gomi.save_revision(user=staff).publish(user=staff)
    answer(city_site, "/kurashi/henkou.html").unpublish(user=staff)

    city_site.version = 2
    city_site.overrides["/kurashi/gomi.html"] = Reply(
        200,
        "<html><body><main><h1>家庭ごみの出し方</h1><h2>新しい見出し</h2><p>変わりました。</p></main></body></html>".encode(),
    )
    run = services.run_sync(source_id=source.pk)
    updated = answer(city_site, "/kurashi/gomi.html")
    assert lines(run)["/kurashi/gomi.html"][0] == Action.UPDATED and updated.live
    assert updated.phrasings == "ごみはいつ出すの" and "変わりました。" in texts(updated)[0]
    offline = answer(city_site, "/kurashi/henkou.html")
    assert lines(run)["/kurashi/henkou.html"] == (
        Action.UPDATED,
        "職員が非公開にしているため、下書きとして保存しました",
    )
    assert not offline.live and offline.has_unpublished_changes
    assert "毎週木曜日" in texts(offline.get_latest_revision_as_object())[0]


# --- following links from a start page -------------------------------------------------------------


def test_crawl_follows_links_inside_the_sections_only(
    make_source: Callable[..., ScrapeSource], city_site: FakeSite, other_site: FakeSite
) -> None:
    source = make_source(
        sitemap_url="",
        start_url=f"{city_site.base}/index.html",
        sections="/kurashi/\n/private/",
        exclude_patterns="*/owari*",
    )
    run = services.run_sync(source_id=source.pk)
    assert run.status == ScrapeRun.Status.FINISHED, run.message
    created = {line.url.removeprefix(city_site.base) for line in run.lines.filter(action=Action.CREATED)}
    assert created == {
        "/kurashi/gomi.html",
        "/kurashi/sodai.html",
        "/kurashi/bousai.html",
        "/kurashi/henkou.html",
        "/kurashi/kieru.html",
    }
    # The start page is read for its links only; /kanko/ and /kosodate/ are outside the sections.
    assert lines(run)["/index.html"][0] == Action.SKIPPED
    assert not ScrapedPage.objects.filter(url=f"{city_site.base}/index.html").exists()
    assert city_site.count("/kanko/index.html") == 0 and city_site.count("/kosodate/hoiku.html") == 0
    assert city_site.count("/private/himitsu.html") == 0  # in the sections, but robots.txt says no
    assert city_site.count("/kurashi/owari.html") == 0  # excluded
    assert city_site.count("/kurashi/bousai.html") == 1  # (#list is the same page)
    assert other_site.requests == []

    # A page no longer linked (crawl complete) is unpublished.
    city_site.overrides["/index.html"] = Reply(
        200, b'<html><body><main><h1>top</h1><a href="/kurashi/gomi.html">a</a></main></body></html>'
    )
    city_site.overrides["/kurashi/gomi.html"] = Reply(
        200,
        "<html><body><main><h1>家庭ごみの出し方</h1><p>分別してください。</p></main></body></html>".encode(),
    )
    second = services.run_sync(source_id=source.pk)
    assert second.unpublished_count == 4 and second.updated_count == 1
    assert not answer(city_site, "/kurashi/sodai.html").live

    # A page that does not answer hides its links: nothing is judged gone.
    city_site.overrides["/index.html"] = Reply(500, b"error")
    third = services.run_sync(source_id=source.pk)
    assert third.error_count == 1 and third.unpublished_count == 0
    assert "なくなったページの確認はしていません" in third.message
    assert answer(city_site, "/kurashi/gomi.html").live


def test_page_limit_stops_reading_and_does_not_judge_missing_pages(
    make_source: Callable[..., ScrapeSource], city_site: FakeSite
) -> None:
    source = make_source(max_pages=3)
    run = services.run_sync(source_id=source.pk)
    assert run.status == ScrapeRun.Status.FINISHED
    read = [path for path in city_site.paths() if path.endswith(".html")]
    assert len(read) == 3
    assert run.created_count == 3
    assert run.skipped_count == 6  # 6 URLs left for the next run (the robots.txt one included)
    limit_line = run.lines.get(reason__contains="上限")
    assert "残りの 6 件" in limit_line.reason

    # The next run reads the pages not read yet first.
    city_site.requests.clear()
    second = services.run_sync(source_id=source.pk)
    again = [path for path in city_site.paths() if path.endswith(".html")]
    assert not set(again) & set(read)
    assert second.created_count == 3 and second.unpublished_count == 0


# --- safety ---------------------------------------------------------------------------------------


def test_redirects_to_another_site_and_oversized_pages_are_not_read(
    make_source: Callable[..., ScrapeSource], city_site: FakeSite, other_site: FakeSite
) -> None:
    city_site.overrides["/kurashi/gomi.html"] = Reply(
        302, headers={"Location": f"{other_site.base}/kurashi/gomi.html"}
    )
    city_site.overrides["/kurashi/sodai.html"] = Reply(
        200,
        b"<html><body><main><h1>x</h1>" + b"<p>long</p>" * 5000 + b"</main></body></html>",
        {"Content-Type": "text/html"},
    )
    city_site.overrides["/kanko/index.html"] = Reply(301, headers={"Location": "/kanko/top.html"})
    city_site.overrides["/kanko/top.html"] = Reply(
        200,
        "<html><body><main><h1>観光案内</h1><p>朝市</p></main></body></html>".encode(),
        {"Content-Type": "text/html"},
    )
    source = make_source(max_bytes=20_000)
    run = services.run_sync(source_id=source.pk)
    result = lines(run)
    assert result["/kurashi/gomi.html"] == (Action.ERROR, "別のサイトへの転送のため読みませんでした")
    assert (
        result["/kurashi/sodai.html"][0] == Action.SKIPPED
        and "大きすぎます" in result["/kurashi/sodai.html"][1]
    )
    assert other_site.requests == []
    moved = answer(city_site, "/kanko/index.html")  # a redirect on the same site is followed
    assert moved.source_url == f"{city_site.base}/kanko/top.html"


def test_robots_txt_that_does_not_answer_stops_the_run_before_anything_changes(
    make_source: Callable[..., ScrapeSource], city_site: FakeSite
) -> None:
    source = make_source()
    services.run_sync(source_id=source.pk)
    city_site.overrides["/robots.txt"] = Reply(503, b"busy")
    run = services.run_sync(source_id=source.pk)
    assert run.status == ScrapeRun.Status.FAILED and "robots.txt" in run.message
    assert AnswerPage.objects.filter(live=True, source_url__startswith=city_site.base).count() == 8
    source.refresh_from_db()
    assert source.current_run_id is None  # released


# --- tasks and claims ----------------------------------------------------------------------------------


def test_task_works_in_steps_and_queues_the_next_one(
    make_source: Callable[..., ScrapeSource], city_site: FakeSite
) -> None:
    source = make_source()
    queued: list[tuple[Any, ...]] = []
    with (
        mock.patch("scraper.tasks.async_task", side_effect=lambda *args, **kw: queued.append(args)),
        mock.patch("scraper.services.step_seconds", return_value=0),  # one page per step
    ):
        result = tasks.sync_source(source.pk)
        run = ScrapeRun.objects.get()
        assert run.status == ScrapeRun.Status.RUNNING and not run.in_step and "取り込み中" in result
        steps = 1
        while queued:
            name, run_id, step = queued.pop(0)
            assert name == services.CONTINUE_TASK and run_id == run.pk
            tasks.continue_run(run_id, step)
            tasks.continue_run(run_id, step)  # delivered twice: the second does nothing
            steps += 1
    run.refresh_from_db()
    assert run.status == ScrapeRun.Status.FINISHED
    assert counts(run) == {
        "created": 8,
        "updated": 0,
        "unchanged": 0,
        "unpublished": 0,
        "skipped": 1,
        "errors": 0,
    }
    assert steps == run.step == 9  # one page per step (robots.txt and the sitemap in the first)
    assert AnswerPage.objects.filter(live=True).count() == 8


def test_nightly_schedule_queues_enabled_sources(make_source: Callable[..., ScrapeSource]) -> None:
    from kairan.core.schedules import SCHEDULES

    spec = next(spec for spec in SCHEDULES if spec.name == "scraper.sync")
    assert spec.func == "scraper.tasks.sync_all" and spec.cron == "30 2 * * *"
    first, _off = make_source(), make_source(name="停止中", enabled=False)
    with mock.patch("scraper.tasks.async_task") as queued:
        assert tasks.sync_all() == [first.pk]
    queued.assert_called_once_with(services.SYNC_TASK, first.pk, ScrapeRun.Trigger.SCHEDULE, group="scraper")


def test_a_source_held_by_a_live_run_is_not_run_again_and_a_dead_run_is_taken_over(
    make_source: Callable[..., ScrapeSource], city_site: FakeSite
) -> None:
    from django.utils import timezone

    source = make_source()
    holder = ScrapeRun.objects.create(source=source, source_name=source.name, status=ScrapeRun.Status.RUNNING)
    ScrapeSource.objects.filter(pk=source.pk).update(current_run=holder, heartbeat_at=timezone.now())
    skipped = services.run_sync(source_id=source.pk)
    assert skipped.status == ScrapeRun.Status.SKIPPED and city_site.requests == []

    ScrapeSource.objects.filter(pk=source.pk).update(heartbeat_at=timezone.now() - services.STALE_AFTER * 2)
    run = services.run_sync(source_id=source.pk)
    assert run.status == ScrapeRun.Status.FINISHED and run.created_count == 8
    holder.refresh_from_db()
    assert holder.status == ScrapeRun.Status.INTERRUPTED


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_runs_at_once_make_each_page_once(
    make_source: Callable[..., ScrapeSource], city_site: FakeSite
) -> None:
    from django.db import connection

    city_site.pause = 0.1  # a run lasts about a second: the other one starts while it holds the source
    source = make_source()
    results: list[ScrapeRun] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        try:
            barrier.wait()
            results.append(services.run_sync(source_id=source.pk))
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert sorted(r.status for r in results) == sorted([ScrapeRun.Status.FINISHED, ScrapeRun.Status.SKIPPED])
    assert ScrapedPage.objects.count() == 8
    assert AnswerPage.objects.exclude(slug=services.SECTION_SLUG).count() == 8
    assert city_site.count("/kurashi/gomi.html") == 1
