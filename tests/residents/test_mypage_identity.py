"""Whose data a My Page request touches is decided by LINE's verified identity alone: a resident
who edits any request of any My Page endpoint (a user id, a hash, an お問い合わせ番号 in the query,
the body or a header) reads and changes only their own data, and a visitor LINE has not vouched
for reads and changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from home.forms.models import FormPageSubmission, line_user_hash
from residents.consent import resident_number
from residents.models import AttributeChange, AttributeFormPage, Consent, ResidentAttributes
from tests.line.test_liff import SESSION, state_of
from tests.residents.conftest import BIRTH_YEAR, DISTRICT, FIRST_ANSWERS, FIRST_POST

pytestmark = pytest.mark.django_db
Identified = Callable[..., tuple[Client, str]]


def endpoints(page: AttributeFormPage) -> list[tuple[str, str]]:
    """Every My Page endpoint a resident's browser can call, with the methods it takes."""
    form = "/liff" + page.url
    return [
        ("get", "/liff/"),
        ("post", "/liff/agree/"),
        ("get", "/liff/terms/"),
        ("get", "/liff/settings/delete/"),
        ("post", "/liff/settings/delete/"),
        ("get", form),
        ("post", form),
        ("get", "/liff/withdraw/"),
        ("post", "/liff/withdraw/"),  # last: it ends the caller's own registration
    ]


def pointing_at(victim: str) -> dict[str, Any]:
    """Every way a page could try to name another resident."""
    return {
        "user_id": victim,
        "userId": victim,
        "line_user_id": victim,
        "sub": victim,
        "line_user_hash": line_user_hash(victim),
        "number": resident_number(victim),
        "resident": resident_number(victim),
    }


def snapshot(line_user_id: str) -> dict[str, Any]:
    key = line_user_hash(line_user_id)
    row = ResidentAttributes.objects.filter(line_user_hash=key).first()
    return {
        "answers": row.current if row else None,
        "history": list(AttributeChange.objects.filter(resident=row).values_list("pk", "kind"))
        if row
        else [],
        "consents": list(Consent.objects.filter(line_user_hash=key).values_list("pk", flat=True)),
        "submissions": list(
            FormPageSubmission.objects.filter(line_user_hash=key).values_list("pk", flat=True)
        ),
    }


def call(client: Client, method: str, path: str, victim: str, body: dict[str, Any] | None = None) -> Any:
    tampered = pointing_at(victim)
    query = "&".join(f"{name}={value}" for name, value in tampered.items())
    headers = {"HTTP_X_LINE_USER_ID": victim, "HTTP_X_LINE_USERID": victim}
    if method == "get":
        return client.get(f"{path}?{query}", **headers)  # type: ignore[arg-type]
    return client.post(f"{path}?{query}", {**(body or {}), **tampered}, **headers)  # type: ignore[arg-type]


@pytest.fixture
def alice(attribute_page: AttributeFormPage, identified: Identified) -> tuple[str, dict[str, Any]]:
    """A registered resident with 受信設定, an agreement and a form submission."""
    client, user_id = identified("大船渡 花子")
    assert client.post("/liff" + attribute_page.url, FIRST_POST).status_code == 200
    FormPageSubmission.objects.create(
        page=attribute_page, form_data={}, line_user_id=user_id, line_user_hash=line_user_hash(user_id)
    )
    before = snapshot(user_id)
    assert before["answers"] == FIRST_ANSWERS and before["consents"] and before["submissions"]
    return user_id, before


def test_another_resident_reaches_only_their_own_data(
    attribute_page: AttributeFormPage, identified: Identified, alice: tuple[str, dict[str, Any]]
) -> None:
    victim, before = alice
    client, mallory = identified("攻撃 者")
    agree_body = {"terms": Consent.objects.first().terms_id, "agree": "yes"}  # type: ignore[union-attr]
    change = {**FIRST_POST, DISTRICT: "c3-2", BIRTH_YEAR: "1960"}
    for method, path in endpoints(attribute_page):
        body = agree_body if path.endswith("/agree/") else change
        response = call(client, method, path, victim, body)
        assert response.status_code in (200, 302), (method, path, response.status_code)
        text = response.content.decode()
        assert resident_number(victim) not in text, (method, path)
        # Alice's birth year neither on My Page nor selected in the form (whose year list has it).
        assert "1987年</dd>" not in text and 'value="1987" selected' not in text, (method, path)
        assert snapshot(victim) == before, (method, path)
    # The attacker's own data did change along the way (their requests were theirs).
    assert not ResidentAttributes.objects.filter(line_user_hash=line_user_hash(mallory)).exists()
    assert Consent.objects.filter(line_user_hash="").count() == 1, "the attacker's own agreement, withdrawn"


def test_the_identity_endpoint_takes_no_user_id(
    client: Client, alice: tuple[str, dict[str, Any]], attribute_page: AttributeFormPage
) -> None:
    victim, before = alice
    response = client.post(SESSION, {"idToken": "", **pointing_at(victim)}, content_type="application/json")
    assert response.status_code == 400 and response.json()["ok"] is False
    assert state_of(client.get("/liff/")) == "identify"
    assert snapshot(victim) == before


def test_visitors_line_has_not_vouched_for_reach_nothing(
    client: Client, alice: tuple[str, dict[str, Any]], attribute_page: AttributeFormPage
) -> None:
    victim, before = alice
    for method, path in endpoints(attribute_page):
        response = call(client, method, path, victim, FIRST_POST)
        assert response.status_code == 200, (method, path)
        assert state_of(response) == "identify", (method, path)
        assert resident_number(victim) not in response.content.decode()
    assert snapshot(victim) == before
    assert ResidentAttributes.objects.count() == 1 and Consent.objects.count() == 1
