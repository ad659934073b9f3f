"""The admin's submissions listing (decrypted, labels not codes) and its spreadsheet export."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from openpyxl import load_workbook

from home.models import FormPage
from kairan.oplog.models import OperationLogEntry
from kairan.staff.permissions import create_department
from kairan.staff.roles import EDITOR
from tests.forms.conftest import DEMO_FIELDS, VALID_POST, key

pytestmark = pytest.mark.django_db


@pytest.fixture
def answered(client: Client, make_form: Callable[..., FormPage]) -> FormPage:
    """A form with two answers, then republished without the phone field."""
    page = make_form()
    client.post(page.url, VALID_POST)
    client.post(
        page.url, {**VALID_POST, f"{key(2)}_family": "𠮷田", key(7): '=HYPERLINK("http://evil.example")'}
    )
    page.form_fields = [f for f in DEMO_FIELDS if f["id"] != DEMO_FIELDS[3]["id"]]
    page.save_revision().publish()
    return page


@pytest.fixture
def staff(client: Client, make_staff: Any, section: Any) -> Client:
    create_department(name="防災課", section=section)
    client.force_login(make_staff("bousai", EDITOR, "防災課"))
    return client


def listing_url(page: FormPage) -> str:
    return f"/admin/forms/submissions/{page.pk}/"


def test_listing_shows_labels_and_retired_fields(answered: FormPage, staff: Client) -> None:
    from kairan.oplog.models import OperationLogEntry

    response = staff.get(listing_url(answered))
    assert response.status_code == 200
    body = response.content.decode()
    assert "電話番号（削除済み）" in body and "0192-27-3111" in body
    assert "大船渡 太郎（オオフナト タロウ）" in body
    assert "〒022-8501 岩手県大船渡市盛町字宇津野沢15" in body
    assert "会場" in body and "c6-0" not in body
    assert "受付メモ" in body  # the staff-only column
    assert "CSV（UTF-8）" in body and "CSV（Shift_JIS）" in body
    # Answers are personal data: showing them is in the operation log.
    entry = OperationLogEntry.objects.get(action="kairan.personal.view")
    assert entry.object_label == f"フォームの回答（{answered.title}）" and entry.object_id == str(answered.pk)


def test_csv_export_has_bom_one_column_per_field_and_neutralised_formulas(
    answered: FormPage, staff: Client
) -> None:
    response = staff.get(listing_url(answered) + "?export=csv&encoding=utf-8")
    assert response.status_code == 200
    data = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == [
        "回答番号",
        "送信日時",
        "氏名",
        "住所",
        "生まれ年",
        "参加方法",
        "会場での配慮",
        "受付メモ",
        "個人情報の取り扱いに同意します",
        "電話番号（削除済み）",
    ]
    first, second = rows[1], rows[2]
    assert first[2:7] == [
        "大船渡 太郎（オオフナト タロウ）",
        "〒022-8501 岩手県大船渡市盛町字宇津野沢15",
        "1990",
        "会場",
        "車いすで参加します",
    ]
    assert first[-2:] == ["同意する", "0192-27-3111"]
    assert second[6] == '\'=HYPERLINK("http://evil.example")'
    assert OperationLogEntry.objects.filter(
        action="kairan.export", object_label__contains="防災講座"
    ).exists()


def test_cp932_export_reports_characters_it_cannot_hold(answered: FormPage, staff: Client) -> None:
    response = staff.get(listing_url(answered) + "?export=csv&encoding=cp932")
    assert response.status_code == 302
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("「𠮷」" in m and "UTF-8 で出力してください" in m for m in messages), messages


def test_cp932_export_without_unusual_characters(
    client: Client, make_form: Callable[..., FormPage], staff: Client
) -> None:
    page = make_form(slug="sjis")
    client.post(page.url, VALID_POST)
    response = staff.get(listing_url(page) + "?export=csv&encoding=cp932")
    assert response.status_code == 200
    assert "大船渡 太郎" in response.content.decode("cp932")


def test_xlsx_export_keeps_numbers_and_text(answered: FormPage, staff: Client) -> None:
    response = staff.get(listing_url(answered) + "?export=xlsx")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][-1] == "電話番号（削除済み）"
    assert rows[1][4] == 1990 and rows[1][-1] == "0192-27-3111"
    formula = sheet.cell(row=3, column=7)
    assert (
        formula.value == '=HYPERLINK("http://evil.example")' and formula.data_type == "s"
    )  # never a formula


def test_other_departments_cannot_list_submissions(
    answered: FormPage, make_staff: Any, client: Client
) -> None:
    client.force_login(make_staff("kosodate", EDITOR))
    response = client.get(listing_url(answered))
    assert response.status_code == 302
