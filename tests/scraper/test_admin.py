"""The admin of ホームページ取り込み: the 取り込み設定 snippet, 取り込み履歴 and 「今すぐ取り込む」."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any
from unittest import mock

import pytest
from bs4 import BeautifulSoup
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from wagtail.models import Page, Site

from home.models import HomePage
from kairan.oplog.models import OperationLogEntry
from kairan.staff.roles import VIEWER
from scraper import services, tasks
from scraper.models import Action, ScrapeRun, ScrapeSource
from tests.scraper.conftest import FakeSite
from tests.test_oplog import admin_client

pytestmark = pytest.mark.django_db

RUNS = "/admin/scraper/history/"


def soup_of(response: Any) -> BeautifulSoup:
    return BeautifulSoup(response.content.decode(), "html.parser")


def text_of(soup: BeautifulSoup, selector: str) -> str:
    found = soup.select_one(selector)
    assert found is not None, selector
    return found.get_text(" ", strip=True)


def test_runs_report_lists_runs_and_a_run_shows_its_lines(
    client: Client,
    make_staff: Callable[..., Any],
    make_source: Callable[..., ScrapeSource],
    city_site: FakeSite,
) -> None:
    source = make_source()
    run = services.run_sync(source_id=source.pk)
    admin_client(make_staff, client)

    response = client.get(RUNS)
    assert response.status_code == 200
    soup = soup_of(response)
    assert text_of(soup, "h1") == "取り込み履歴"
    table = soup.select_one("table.listing")
    assert table is not None
    row = table.get_text(" ", strip=True)
    assert "みなと市ホームページ" in row and "定時" in row and "完了" in row
    assert soup.select_one(f"a[href='/admin/scraper/history/{run.pk}/']") is not None
    assert soup.select_one(f"a[data-scraper-run-now='{source.pk}']") is not None
    assert soup.select_one("[data-kairan-help=scraper]") is not None

    detail = client.get(f"{RUNS}{run.pk}/")
    assert detail.status_code == 200
    page = soup_of(detail)
    counts = text_of(page, "#scraper-run-counts")
    assert counts == "新規 8・更新 0・変更なし 0・非公開 0・スキップ 1・エラー 0"
    listing = text_of(page, "table.listing")
    assert "家庭ごみの出し方" in listing and "robots.txt で読むことが禁止されています" in listing
    edit_links = [a["href"] for a in page.select("table.listing a[href*='/admin/pages/']")]
    assert len(edit_links) == 8

    skipped = soup_of(client.get(f"{RUNS}{run.pk}/", {"action": Action.SKIPPED}))
    rows = skipped.select("table.listing tbody tr")
    assert len(rows) == 1 and "himitsu" in rows[0].get_text()

    export = client.get(f"{RUNS}{run.pk}/", {"export": "csv", "encoding": "utf-8"})
    assert export.status_code == 200
    exported = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode("utf-8-sig"))))  # type: ignore[attr-defined]
    assert exported[0][:3] == ["結果", "タイトル", "URL"] and len(exported) == 10


def test_run_now_queues_the_task_and_logs_who_asked(
    client: Client,
    make_staff: Callable[..., Any],
    make_source: Callable[..., ScrapeSource],
    city_site: FakeSite,
    django_capture_on_commit_callbacks: Any,
) -> None:
    source = make_source()
    admin = admin_client(make_staff, client)
    url = reverse("scraper_admin:run_now", args=[source.pk])

    confirm = client.get(url)
    assert confirm.status_code == 200
    assert text_of(soup_of(confirm), "form[method=post] button[type=submit]") == "今すぐ取り込む"

    with (
        mock.patch("scraper.services.async_task") as queued,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = client.post(url)
    assert response.status_code == 302 and response["Location"] == RUNS
    run = ScrapeRun.objects.get()
    assert (run.status, run.trigger, run.requested_by) == (
        ScrapeRun.Status.QUEUED,
        ScrapeRun.Trigger.MANUAL,
        admin,
    )
    queued.assert_called_once_with(
        services.SYNC_TASK, source.pk, ScrapeRun.Trigger.MANUAL, run.pk, group="scraper"
    )
    message = [str(m) for m in get_messages(response.wsgi_request)]
    assert message and "取り込みを始めました" in message[0]
    entry = OperationLogEntry.objects.filter(action="scraper.run_requested").get()
    assert (entry.actor_id, entry.object_id) == (admin.pk, str(run.pk))
    assert "今すぐ取り込む" in entry.object_label
    assert not OperationLogEntry.objects.filter(
        action__in=["kairan.write.create", "kairan.admin.post"]
    ).exists()

    # Pressed again while it waits: refused, nothing queued.
    with mock.patch("scraper.services.async_task") as again, django_capture_on_commit_callbacks(execute=True):
        refused = client.post(url, follow=True)
    again.assert_not_called()
    assert "いま取り込み中です" in refused.content.decode()
    assert ScrapeRun.objects.count() == 1

    # The queued task runs the very run the button made.
    tasks.sync_source(source.pk, ScrapeRun.Trigger.MANUAL, run.pk)
    run.refresh_from_db()
    assert run.status == ScrapeRun.Status.FINISHED and run.created_count == 8
    listing = text_of(soup_of(client.get(RUNS)), "table.listing")
    assert "手動（今すぐ取り込む）" in listing


def test_viewers_see_the_history_but_cannot_run_or_change_sources(
    client: Client, make_staff: Callable[..., Any], make_source: Callable[..., ScrapeSource]
) -> None:
    source = make_source()
    client.force_login(make_staff("etsuran", VIEWER))
    assert client.get(RUNS).status_code == 200
    assert soup_of(client.get(RUNS)).select_one("[data-scraper-run-now]") is None
    url = reverse("scraper_admin:run_now", args=[source.pk])
    refused = client.get(url)  # Wagtail answers a permission denied with the dashboard and a message
    assert (refused.status_code, refused["Location"]) == (302, "/admin/")
    with mock.patch("scraper.services.async_task") as queued:
        assert client.post(url)["Location"] == "/admin/"
    queued.assert_not_called()
    assert not ScrapeRun.objects.exists()


def test_sources_are_a_snippet_with_run_now_in_each_row(
    client: Client, make_staff: Callable[..., Any], city_site: FakeSite
) -> None:
    from wagtail.admin.menu import admin_menu

    admin_client(make_staff, client)
    listing = "/admin/snippets/scraper/scrapesource/"
    add = client.post(
        f"{listing}add/",
        {
            "name": "市のホームページ",
            "sitemap_url": f"{city_site.base}/sitemap.xml",
            "start_url": "",
            "sections": "/kurashi/",
            "exclude_patterns": "",
            "max_pages": "200",
            "max_bytes": "2000000",
            "delay_seconds": "1",
            "auto_publish": "on",
            "enabled": "on",
        },
    )
    assert add.status_code == 302, add.content.decode()[:2000]
    source = ScrapeSource.objects.get()
    assert source.sections == "/kurashi/" and source.auto_publish
    assert OperationLogEntry.objects.filter(action="wagtail.create", object_id=str(source.pk)).exists()

    # The parent page is a plain list (Wagtail's page chooser needs an inline script the CSP blocks).
    edit = client.get(f"{listing}edit/{source.pk}/").content.decode()
    assert "new PageChooser" not in edit
    options = [
        o.get_text()
        for o in soup_of(client.get(f"{listing}edit/{source.pk}/")).select("#id_parent_page option")
    ]
    assert options[0].startswith("（自動") and len(options) == 1  # the test site's root is a plain Page
    home = HomePage(title="みなと市 LINE", slug="minato")
    Page.get_first_root_node().add_child(instance=home)
    Site.objects.filter(is_default_site=True).update(root_page=home)
    services.run_sync(source_id=source.pk)
    options = [
        o.get_text()
        for o in soup_of(client.get(f"{listing}edit/{source.pk}/")).select("#id_parent_page option")
    ]
    assert options[1:] == ["みなと市 LINE", "　ホームページ"]  # not the answers the scraper made

    soup = soup_of(client.get(listing))
    assert soup.select_one(f"a[href='/admin/scraper/sources/{source.pk}/run/']") is not None
    assert "完了" in text_of(soup, "table.listing")

    request = client.get("/admin/").wsgi_request
    items = {item.name: item for item in admin_menu.menu_items_for_request(request)}
    assert items["scraper"].label == "ホームページ取り込み"
