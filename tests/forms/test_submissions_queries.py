"""The submissions listing and its exports read the form's columns once per request, not once
per submission: their number of queries does not grow with the number of submissions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from home.forms.models import FormPageSubmission
from home.models import FormPage
from kairan.staff.permissions import create_department
from kairan.staff.roles import EDITOR
from tests.forms.conftest import key

pytestmark = pytest.mark.django_db

ANSWERS = {
    key(2): {"family": "大船渡", "given": "太郎", "family_kana": "オオフナト", "given_kana": "タロウ"},
    key(3): {"postal_code": "0228501", "address": "岩手県大船渡市盛町字宇津野沢15"},
    key(4): "0192-27-3111",
    key(5): 1990,
    key(6): "c6-0",
    key(7): "車いすで参加します",
    key(9): True,
}


def add_submissions(page: FormPage, count: int) -> None:
    FormPageSubmission.objects.bulk_create(
        FormPageSubmission(page=page, form_data=dict(ANSWERS)) for _ in range(count)
    )


def get_counting_queries(client: Client, url: str) -> tuple[str, int, list[str]]:
    """The response body and the queries made for it (a streamed CSV queries while it streams)."""
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
        streamed = getattr(response, "streaming_content", None)
        body = b"".join(streamed) if streamed is not None else response.content
    assert response.status_code == 200, url
    sql = [query["sql"] for query in captured.captured_queries]
    return body.decode("utf-8-sig", errors="replace"), len(sql), sql


@pytest.mark.parametrize(
    ("query", "rows"),
    [("", 20), ("?export=csv&encoding=utf-8", 30), ("?export=xlsx", 30)],
    ids=["listing", "csv", "xlsx"],
)
def test_queries_do_not_grow_with_the_number_of_submissions(
    client: Client, make_form: Callable[..., FormPage], make_staff: Any, section: Any, query: str, rows: int
) -> None:
    page = make_form()
    create_department(name="防災課", section=section)
    client.force_login(make_staff("bousai", EDITOR, "防災課"))
    url = f"/admin/forms/submissions/{page.pk}/{query}"
    add_submissions(page, 3)
    client.get(url)  # a first request fills caches (site, content types, permissions)

    _, few, _ = get_counting_queries(client, url)
    add_submissions(page, 27)  # 30 in all: more than the listing's page of 20
    body, many, sql = get_counting_queries(client, url)
    assert many == few, f"{few} queries for 3 submissions, {many} for 30:\n" + "\n".join(sql)
    if not query:  # the listing shows a page of rows, with labels (not codes) from the columns
        assert body.count("大船渡 太郎（オオフナト タロウ）") == rows
        assert body.count("〒022-8501 岩手県大船渡市盛町字宇津野沢15") == rows
    elif "csv" in query:
        assert body.count("大船渡 太郎（オオフナト タロウ）") == rows
