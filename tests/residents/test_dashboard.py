"""The dashboard panel 受信設定の登録状況: counts per choice label and age band, from the blind index."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from unittest import mock

import pytest
from bs4 import BeautifulSoup, Tag
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from home.forms.fields import NO_ANSWER
from kairan.staff.roles import VIEWER
from residents.dashboard import AttributeDistributionPanel, dashboard_panel, distribution
from residents.models import AttributeFormPage
from residents.services import delete_attributes, save_attributes
from tests.residents.conftest import BIRTH_YEAR, DISTRICT, GENDER, MEMO, TOPICS, WORK

pytestmark = pytest.mark.django_db
ADMIN_HOME = "/admin/"
PANEL_ID = "resident-attributes-section"
EMPTY = "まだ受信設定を登録した人はいません。"


@pytest.fixture
def staff(client: Client, make_staff: Any) -> Client:
    """A signed-in 閲覧者 (the role with the fewest rights; not forced to two-factor)."""
    client.force_login(make_staff("etsuran", VIEWER))
    return client


def register(page: AttributeFormPage, user_id: str, answers: dict[str, Any]) -> None:
    save_attributes(page=page, line_user_id=user_id, answers=answers, actor="resident")


def born_aged(age: int) -> int:
    """The birth year of someone reaching ``age`` this year (in Tokyo)."""
    return timezone.localdate().year - age


def panel_of(response: Any) -> Tag | None:
    assert response.status_code == 200
    found = BeautifulSoup(response.content.decode(), "html.parser").find(id=PANEL_ID)
    return found if isinstance(found, Tag) else None


def tables_of(panel: Tag) -> dict[str, dict[str, int]]:
    """Caption's field label -> {row label: count} of every table in the panel."""
    tables: dict[str, dict[str, int]] = {}
    for table in panel.select("table"):
        caption = table.select_one("caption")
        assert caption is not None, "every table has a caption"
        kind = caption.select_one("span")
        label = caption.get_text().removesuffix(kind.get_text() if kind else "")
        rows: dict[str, int] = {}
        for tr in table.select("tbody tr"):
            head, count, meter = tr.select_one("th[scope=row]"), tr.select_one("td"), tr.select_one("meter")
            assert head is not None and count is not None and meter is not None
            rows[head.get_text(strip=True)] = n = int(
                count.get_text(strip=True).removesuffix("人").replace(",", "")
            )
            assert meter["value"] == str(n)
        tables[label] = rows
    return tables


def test_dashboard_shows_counts_per_choice_label_and_age_band(
    attribute_page: AttributeFormPage, staff: Client
) -> None:
    # 女性, 35, 盛町, works in 大船渡町, wants 防災・防犯 and クマ出没情報.
    register(
        attribute_page,
        "U1",
        {
            GENDER: "c1-1",
            BIRTH_YEAR: born_aged(35),
            DISTRICT: "c3-0",
            WORK: ["c4-1"],
            TOPICS: ["c5-0", "c5-1"],
        },
    )
    # 男性, 38, 大船渡町, no work district, wants 防災・防犯; a staff memo (not counted anywhere).
    register(
        attribute_page,
        "U2",
        {
            GENDER: "c1-0",
            BIRTH_YEAR: born_aged(38),
            DISTRICT: "c3-1",
            WORK: [],
            TOPICS: ["c5-0"],
            MEMO: "メモ",
        },
    )
    # 回答しない, 82, 盛町, works in 盛町 and 大船渡町, wants 子育て.
    register(
        attribute_page,
        "U3",
        {
            GENDER: NO_ANSWER,
            BIRTH_YEAR: born_aged(82),
            DISTRICT: "c3-0",
            WORK: ["c4-0", "c4-1"],
            TOPICS: ["c5-2"],
        },
    )
    # Only topics (e.g. registered before the other items existed): 未回答 in the single-answer items.
    register(attribute_page, "U4", {TOPICS: ["c5-1"]})
    # Registered, then deleted their answers: not counted.
    register(
        attribute_page, "U5", {GENDER: "c1-2", BIRTH_YEAR: born_aged(20), DISTRICT: "c3-2", TOPICS: ["c5-2"]}
    )
    assert delete_attributes(line_user_id="U5", actor="resident")

    panel = panel_of(staff.get(ADMIN_HOME))
    assert panel is not None
    text = panel.get_text(" ", strip=True)
    assert "受信設定を登録した人: 4人" in text
    assert "受信設定を登録した人だけを数えています" in text
    assert EMPTY not in text
    assert tables_of(panel) == {
        "性別": {"男性": 1, "女性": 1, "その他": 0, "回答しない": 1, "未回答": 1},
        "生まれ年": {
            "10歳未満": 0,
            "10代": 0,
            "20代": 0,
            "30代": 2,
            "40代": 0,
            "50代": 0,
            "60代": 0,
            "70代": 0,
            "80代": 1,
            "90歳以上": 0,
            "未回答": 1,
        },
        "お住まいの地区": {"盛町": 2, "大船渡町": 1, "末崎町": 0, "未回答": 1},
        "勤務先・通学先の地区": {"盛町": 1, "大船渡町": 2, "末崎町": 0},
        "受け取りたい情報": {"防災・防犯": 2, "クマ出没情報": 2, "子育て": 1},
    }
    # Share of the registered residents, next to the bar.
    districts = panel.find("table", attrs={"data-field-key": DISTRICT})
    assert districts is not None
    assert [td.get_text(strip=True) for td in districts.select("td.kairan-attr-share")] == [
        "50%",
        "25%",
        "0%",
        "25%",
    ]
    assert all(meter["max"] == "4" for meter in panel.find_all("meter"))
    # The stylesheet comes with the panel (the CSP allows no inline scripts; none are needed).
    assert "residents/dashboard.css" in staff.get(ADMIN_HOME).content.decode()
    assert not panel.find("script")


def test_counting_never_decrypts_and_follows_label_changes(attribute_page: AttributeFormPage) -> None:
    register(attribute_page, "U1", {DISTRICT: "c3-0", BIRTH_YEAR: 1990, TOPICS: ["c5-0"]})
    register(attribute_page, "U2", {DISTRICT: "c3-0", BIRTH_YEAR: 1991, TOPICS: ["c5-0", "c5-2"]})
    # A label edited after the answers arrived: the counts stay with the choice (its code).
    fields = list(attribute_page.form_fields.raw_data)
    fields[2] = {**fields[2], "value": {**fields[2]["value"]}}
    fields[2]["value"]["choices"] = [
        {**choice, "value": "盛町（さかりちょう）"} if choice["id"] == "c3-0" else choice
        for choice in fields[2]["value"]["choices"]
    ]
    attribute_page.form_fields = fields
    attribute_page.save_revision().publish()
    page = AttributeFormPage.objects.get(pk=attribute_page.pk)

    with mock.patch("kairan.core.crypto.decrypt", side_effect=AssertionError("decrypted an answer")):
        result = distribution(page, today=date(2026, 4, 1))
    by_label = {item.label: {row.label: row.count for row in item.rows} for item in result.items}
    assert result.registered == 2
    assert by_label["お住まいの地区"]["盛町（さかりちょう）"] == 2
    assert "盛町" not in by_label["お住まいの地区"]
    assert by_label["生まれ年"]["30代"] == 2  # 36 and 35 in 2026
    assert by_label["受け取りたい情報"] == {"防災・防犯": 2, "クマ出没情報": 0, "子育て": 1}
    # Multiple-choice items have no 未回答 row (one resident may count in several rows).
    assert "未回答" not in by_label["受け取りたい情報"] and by_label["性別"]["未回答"] == 2


def test_age_bands_use_todays_date_in_tokyo(attribute_page: AttributeFormPage) -> None:
    register(attribute_page, "U1", {BIRTH_YEAR: 2006})
    register(attribute_page, "U2", {BIRTH_YEAR: 1936})

    def bands(today: date | None = None) -> dict[str, int]:
        item = next(i for i in distribution(attribute_page, today=today).items if i.key == BIRTH_YEAR)
        return {row.label: row.count for row in item.rows if row.count}

    assert bands(date(2025, 12, 31)) == {"10代": 1, "80代": 1}
    assert bands(date(2026, 1, 1)) == {"20代": 1, "90歳以上": 1}
    # 15:30 UTC on 31 December is already 1 January in Tokyo.
    with mock.patch("django.utils.timezone.now", return_value=datetime(2025, 12, 31, 15, 30, tzinfo=UTC)):
        assert bands() == {"20代": 1, "90歳以上": 1}
    with mock.patch("django.utils.timezone.now", return_value=datetime(2025, 12, 31, 14, 30, tzinfo=UTC)):
        assert bands() == {"10代": 1, "80代": 1}


def _register_many(page: AttributeFormPage, start: int, count: int) -> None:
    for n in range(start, start + count):
        register(
            page,
            f"U{n}",
            {
                GENDER: f"c1-{n % 3}",
                BIRTH_YEAR: born_aged(18 + n * 3),
                DISTRICT: f"c3-{n % 3}",
                WORK: [f"c4-{n % 3}", f"c4-{(n + 1) % 3}"],
                TOPICS: ["c5-0", f"c5-{n % 3}"],
            },
        )


def test_queries_do_not_grow_with_the_number_of_residents(
    attribute_page: AttributeFormPage, staff: Client
) -> None:
    def panel_queries(*, fresh: bool = True) -> list[str]:
        if fresh:
            cache.clear()  # the panel keeps its counts for a few minutes
        with CaptureQueriesContext(connection) as captured:
            panel = dashboard_panel()
            assert panel is not None
            html = panel.render_html({})
        assert "受信設定を登録した人:" in html
        # (the database cache's own reads and writes aside)
        return [
            sql
            for sql in (query["sql"] for query in captured.captured_queries)
            if "kairan_cache" not in sql and not sql.startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))
        ]

    def dashboard_queries() -> int:
        cache.clear()
        with CaptureQueriesContext(connection) as captured:
            assert panel_of(staff.get(ADMIN_HOME)) is not None
        return len(captured.captured_queries)

    _register_many(attribute_page, 0, 2)
    staff.get(ADMIN_HOME)  # warm up (session, user profile)
    few_panel, few_dashboard = panel_queries(), dashboard_queries()
    _register_many(attribute_page, 2, 18)
    many_panel, many_dashboard = panel_queries(), dashboard_queries()

    # The page look-up, the registered count and one grouped count of all tokens: no query per
    # resident, field or choice, and no read of the encrypted answers.
    assert len(few_panel) == len(many_panel) == 3
    assert few_dashboard == many_dashboard
    token_queries = [sql for sql in many_panel if "residents_attributetoken" in sql]
    assert len(token_queries) == 2
    assert not any("residents_residentattributes" in sql for sql in many_panel)
    # Shown again within a few minutes: the counts come from the cache.
    again = panel_queries(fresh=False)
    assert not any("residents_attributetoken" in sql for sql in again)
    # The counts are right with 20 residents too.
    page = AttributeFormPage.objects.get()
    result = distribution(page)
    assert result.registered == 20
    topics = next(item for item in result.items if item.key == TOPICS)
    assert [row.count for row in topics.rows] == [20, 7, 6]


def test_message_when_nobody_registered(attribute_page: AttributeFormPage, staff: Client) -> None:
    register(attribute_page, "U1", {GENDER: "c1-0", DISTRICT: "c3-0", TOPICS: ["c5-0"]})
    delete_attributes(line_user_id="U1", actor="resident")
    panel = panel_of(staff.get(ADMIN_HOME))
    assert panel is not None
    assert EMPTY in panel.get_text()
    assert panel.find("table") is None


def test_no_panel_without_an_attribute_form(staff: Client) -> None:
    assert not AttributeFormPage.objects.exists()
    assert panel_of(staff.get(ADMIN_HOME)) is None
    assert dashboard_panel() is None
    # Should the form go away between the hook and the rendering, the panel says so in a sentence.
    html = AttributeDistributionPanel(None).render_html({})
    assert "受信設定フォームがまだありません。" in html and "<table" not in html
