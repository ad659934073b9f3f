"""The 受信設定 form through HTTP with residents LINE identified: one current row per resident,
history only on change, pre-filled GETs, tokens that follow the answers, and deletion."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from bs4 import BeautifulSoup
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

from home.forms.models import FormPageSubmission, line_user_hash
from kairan.oplog.models import OperationLogEntry
from residents.attributes import attributes_of, birth_year_token, token_for
from residents.models import AttributeChange, AttributeFormPage, AttributeToken, ResidentAttributes
from residents.services import delete_attributes, save_attributes
from tests.residents.conftest import (
    BIRTH_YEAR,
    DISTRICT,
    FIRST_ANSWERS,
    FIRST_POST,
    GENDER,
    MEMO,
    TOPICS,
    WORK,
)

pytestmark = pytest.mark.django_db
Identified = Callable[[str], tuple[Client, str]]
IDENTIFYING = "LINE で本人確認をしています"


def soup_of(response: Any) -> BeautifulSoup:
    return BeautifulSoup(response.content.decode(), "html.parser")


def tokens_of(line_user_id: str) -> set[str]:
    row = ResidentAttributes.objects.get(line_user_hash=line_user_hash(line_user_id))
    return set(AttributeToken.objects.filter(resident=row).values_list("token", flat=True))


def checked(soup: BeautifulSoup, name: str) -> set[str]:
    return {str(i["value"]) for i in soup.select(f'input[name="{name}"][checked]')}


def selected(soup: BeautifulSoup, name: str) -> str:
    option = soup.select_one(f'select[name="{name}"] option[selected]')
    return str(option["value"]) if option else ""


def test_save_change_and_delete_through_the_form(
    attribute_page: AttributeFormPage, identified: Identified
) -> None:
    client, resident = identified("大船渡 花子")
    empty = soup_of(client.get(attribute_page.url))
    assert IDENTIFYING not in empty.get_text() and empty.select_one("form[data-kf-form]") is not None
    assert checked(empty, DISTRICT) == set() and selected(empty, BIRTH_YEAR) == ""

    response = client.post(attribute_page.url, FIRST_POST)
    assert response.status_code == 200 and "送信しました" in response.content.decode()
    row = ResidentAttributes.objects.get()
    assert row.line_user_id == resident and row.current == FIRST_ANSWERS
    assert not FormPageSubmission.objects.exists()  # answers do not pile up as submissions
    (created,) = AttributeChange.objects.all()
    assert created.resident == row and created.actor == "resident" and created.kind == "created"
    assert created.changed[DISTRICT] == {"before": None, "after": "c3-0"}
    assert created.changed[BIRTH_YEAR] == {"before": None, "after": 1987}

    # The same answers again: nothing changes, no history.
    client.post(attribute_page.url, FIRST_POST)
    assert AttributeChange.objects.count() == 1 and ResidentAttributes.objects.count() == 1

    # The form shows the current answers.
    filled = soup_of(client.get(attribute_page.url))
    assert checked(filled, GENDER) == {"c1-1"} and checked(filled, DISTRICT) == {"c3-0"}
    assert checked(filled, TOPICS) == {"c5-0", "c5-1"} and checked(filled, WORK) == {"c4-1"}
    assert selected(filled, BIRTH_YEAR) == "1987"
    before = tokens_of(resident)
    assert token_for(DISTRICT, "c3-0") in before and token_for(TOPICS, "c5-1") in before
    assert birth_year_token(BIRTH_YEAR, 1987) in before

    # Moving to 末崎町, dropping クマ出没情報 and the workplace.
    changed_post = {**FIRST_POST, DISTRICT: "c3-2", TOPICS: ["c5-0"], WORK: []}
    client.post(attribute_page.url, changed_post)
    row.refresh_from_db()
    assert row.current == {GENDER: "c1-1", BIRTH_YEAR: 1987, DISTRICT: "c3-2", TOPICS: ["c5-0"]}
    change = AttributeChange.objects.latest("pk")
    assert change.kind == "changed" and change.actor == "resident" and change.resident == row
    assert change.changed == {
        DISTRICT: {"before": "c3-0", "after": "c3-2"},
        TOPICS: {"before": ["c5-0", "c5-1"], "after": ["c5-0"]},
        WORK: {"before": ["c4-1"], "after": None},
    }
    after = tokens_of(resident)
    assert token_for(DISTRICT, "c3-2") in after and token_for(DISTRICT, "c3-0") not in after
    assert token_for(TOPICS, "c5-1") not in after and token_for(WORK, "c4-1") not in after
    assert birth_year_token(BIRTH_YEAR, 1987) in after

    assert delete_attributes(line_user_id=resident, actor="resident")
    assert ResidentAttributes.objects.get().current == {} and not AttributeToken.objects.exists()
    # Staff still see each step in the history, without the values (personal data).
    history = list(AttributeChange.objects.filter(resident__isnull=False))
    assert [entry.get_kind_display() for entry in history] == ["登録", "変更", "削除"]
    assert all(value == {} for entry in history for value in entry.changed.values())
    assert set(history[1].changed) == {DISTRICT, TOPICS, WORK}
    assert not attributes_of(resident).exists
    assert checked(soup_of(client.get(attribute_page.url)), DISTRICT) == set()
    assert not delete_attributes(line_user_id=resident, actor="resident")


def test_invalid_answers_store_nothing(attribute_page: AttributeFormPage, identified: Identified) -> None:
    client, _ = identified("大船渡 一郎")
    response = client.post(attribute_page.url, {**FIRST_POST, DISTRICT: "nope"})
    assert "入力内容を確認してください" in response.content.decode()
    assert not ResidentAttributes.objects.exists() and not AttributeChange.objects.exists()


def test_unidentified_visitors_and_posted_ids_reach_nobody(
    client: Client, attribute_page: AttributeFormPage, identified: Identified
) -> None:
    alice_client, alice = identified("大船渡 花子")
    alice_client.post(attribute_page.url, FIRST_POST)
    # Without LINE's word the page only identifies; a posted user id is never read.
    page = client.get(attribute_page.url)
    assert IDENTIFYING in soup_of(page).get_text() and "1987" not in page.content.decode()
    client.post(attribute_page.url, {**FIRST_POST, DISTRICT: "c3-1", "user_id": alice, "line_user_id": alice})
    assert ResidentAttributes.objects.count() == 1

    bob_client, bob = identified("大船渡 次郎")
    bob_form = soup_of(bob_client.get(attribute_page.url))
    assert checked(bob_form, DISTRICT) == set() and selected(bob_form, BIRTH_YEAR) == ""
    bob_client.post(
        attribute_page.url,
        {**FIRST_POST, GENDER: "c1-0", DISTRICT: "c3-1", BIRTH_YEAR: "1950", "user_id": alice},
    )
    assert ResidentAttributes.objects.count() == 2
    assert attributes_of(alice).choice_codes(DISTRICT) == {"c3-0"}
    assert attributes_of(bob).choice_codes(DISTRICT) == {"c3-1"} and attributes_of(bob).birth_year() == 1950
    assert token_for(DISTRICT, "c3-1") not in tokens_of(alice)
    # Bob's history never names Alice's row.
    assert {c.resident.line_user_id for c in AttributeChange.objects.all() if c.resident} == {alice, bob}
    assert checked(soup_of(alice_client.get(attribute_page.url)), DISTRICT) == {"c3-0"}


def test_staff_changes_and_staff_only_answers(
    attribute_page: AttributeFormPage, identified: Identified, make_staff: Callable[..., Any]
) -> None:
    staff = make_staff("editor")
    client, resident = identified("大船渡 花子")
    client.post(attribute_page.url, FIRST_POST)
    save_attributes(
        page=attribute_page,
        line_user_id=resident,
        answers={**FIRST_ANSWERS, MEMO: "電話で確認済み"},
        actor=f"staff:{staff.pk}",
    )
    # The operation log says who changed which keys, never the values.
    entry = OperationLogEntry.objects.get(action="kairan.write.update")
    assert entry.actor_id == staff.pk and entry.data == {"keys": [MEMO]}
    assert "電話で確認済み" not in str(entry.data) and entry.object_type == "residents.residentattributes"
    change = AttributeChange.objects.latest("pk")
    assert change.actor == f"staff:{staff.pk}" and change.changed == {
        MEMO: {"before": None, "after": "電話で確認済み"}
    }
    # The resident's form does not show the staff-only field, and sending it keeps that answer.
    client.post(attribute_page.url, {**FIRST_POST, DISTRICT: "c3-1"})
    assert ResidentAttributes.objects.get().current[MEMO] == "電話で確認済み"
    with pytest.raises(ValueError):
        save_attributes(page=attribute_page, line_user_id=resident, answers={}, actor="someone")
    with pytest.raises(ValueError):
        delete_attributes(line_user_id=resident, actor="staff:")


def test_attribute_view_helpers(attribute_page: AttributeFormPage, identified: Identified) -> None:
    client, resident = identified("大船渡 花子")
    client.post(attribute_page.url, FIRST_POST)
    view = attributes_of(resident)
    assert view.exists and view.choice_codes(GENDER) == {"c1-1"}
    assert view.choice_codes(TOPICS) == {"c5-0", "c5-1"} and view.choice_codes("f_missing") == frozenset()
    assert view.birth_year() == 1987 and view.age_on(date(2026, 4, 1)) == 39
    nobody = attributes_of("U" + "0" * 32)
    assert not nobody.exists and nobody.birth_year() is None and nobody.age_on(date(2026, 4, 1)) is None


def test_page_always_requires_identity_and_is_unique(attribute_page: AttributeFormPage) -> None:
    attribute_page.requires_line_identity = False
    attribute_page.save()
    attribute_page.refresh_from_db()
    assert attribute_page.requires_line_identity
    assert not AttributeFormPage.can_create_at(attribute_page.get_parent())
    with pytest.raises(ImproperlyConfigured):
        attribute_page.save_submission(form=attribute_page.get_form())
