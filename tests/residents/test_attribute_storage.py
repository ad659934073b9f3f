"""What the database holds: no plaintext attributes in a raw dump; the demo seed's 受信設定 page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client

from home.forms.models import FormFieldHistory
from home.models import HomePage
from residents.attributes import REGISTERED, tokens_for_answers
from residents.demo import DISTRICTS, TOPICS
from residents.models import AttributeChange, AttributeFormPage, AttributeToken, ResidentAttributes
from tests.residents.conftest import BIRTH_YEAR, DISTRICT, FIRST_POST, GENDER, WORK
from tests.residents.conftest import TOPICS as TOPICS_KEY
from tests.test_oplog import admin_client

pytestmark = pytest.mark.django_db
TABLES = [m._meta.db_table for m in (ResidentAttributes, AttributeChange, AttributeToken)]


def raw_dump(*, skip: tuple[str, ...] = ()) -> str:
    """Every row of the residents tables as the database returns it (no model decryption)."""
    lines = []
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            names = [column[0] for column in cursor.description]
            for row in cursor.fetchall():
                lines.append(" ".join(f"{n}={v}" for n, v in zip(names, row, strict=True) if n not in skip))
    return "\n".join(lines)


def test_raw_sql_holds_no_plaintext(
    attribute_page: AttributeFormPage, identified: Callable[[str], tuple[Client, str]]
) -> None:
    client, resident = identified("大船渡 花子")
    client.post(attribute_page.url, FIRST_POST)
    client.post(attribute_page.url, {**FIRST_POST, DISTRICT: "c3-2", TOPICS_KEY: ["c5-2"]})
    assert AttributeChange.objects.count() == 2 and AttributeToken.objects.exists()
    dump = raw_dump(skip=("token",))
    assert dump.count("\n") >= 3
    # Neither values, choice codes, field keys nor the LINE user id appear in clear.
    for plain in ("1987", "c3-0", "c3-2", "c5-2", "c1-1", DISTRICT, BIRTH_YEAR, GENDER, WORK, resident):
        assert plain not in dump, plain
    # The token column holds only HMACs, exactly those of the resident's current answers.
    tokens = set(AttributeToken.objects.values_list("token", flat=True))
    assert REGISTERED in tokens  # the one clear entry: that this resident registered at all
    assert all(len(t) == 64 and int(t, 16) >= 0 for t in tokens - {REGISTERED})
    answers = ResidentAttributes.objects.get().current
    assert tokens == tokens_for_answers(
        answers, {s.clean_name: s.field_type for s in attribute_page.get_form_fields()}
    )


def test_demo_seed_creates_the_page_once() -> None:
    call_command("load_demo")
    call_command("load_demo")
    page = AttributeFormPage.objects.get()
    assert page.live and page.requires_line_identity
    assert isinstance(page.get_parent().specific, HomePage)
    specs = {spec.label: spec for spec in page.get_form_fields()}
    assert list(specs) == ["性別", "生まれ年", "お住まいの地区", "勤務先・通学先の地区", "受け取りたい情報"]
    assert [label for _, label in specs["性別"].choices] == ["男性", "女性", "その他", "回答しない"]
    assert specs["生まれ年"].field_type == "birth_year"
    assert specs["お住まいの地区"].field_type == "choice"
    assert [label for _, label in specs["お住まいの地区"].choices] == list(DISTRICTS)
    work = specs["勤務先・通学先の地区"]
    assert work.field_type == "choices" and not work.required
    assert [label for _, label in work.choices] == list(DISTRICTS)
    assert specs["受け取りたい情報"].field_type == "choices"
    assert [label for _, label in specs["受け取りたい情報"].choices] == list(TOPICS)
    assert FormFieldHistory.objects.filter(page_id=page.pk).count() == 5  # published
    assert page.url == "/jushin-settei/"


def test_admin_edits_the_page_without_the_identity_switch(
    client: Client, attribute_page: AttributeFormPage, make_staff: Callable[..., Any]
) -> None:
    admin_client(make_staff, client)
    edit = client.get(f"/admin/pages/{attribute_page.pk}/edit/")
    assert edit.status_code == 200 and "受信設定" in edit.content.decode()
    assert 'name="requires_line_identity"' not in edit.content.decode()
    assert 'name="submit_label"' in edit.content.decode()  # the form's own panels are there
    home = attribute_page.get_parent()
    refused = client.get(f"/admin/pages/add/residents/attributeformpage/{home.pk}/")
    assert refused.status_code in (302, 403)  # max_count = 1: a second one cannot be added
