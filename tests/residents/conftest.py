"""A published 受信設定 page with fixed block ids (so keys and codes are known); identified residents."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from wagtail.models import Page

from emulator.client import EmulatorControl
from residents.consent import terms_in_force
from residents.models import AttributeFormPage
from tests.forms.conftest import block, key, make_form, section  # noqa: F401 - fixtures
from tests.line.conftest import line_channel  # noqa: F401 - fixture
from tests.line.test_liff import identify, liff_app, opens_app  # noqa: F401 - fixture

MYPAGE = "/liff/"
AGREE = "/liff/agree/"

GENDER, BIRTH_YEAR, DISTRICT, WORK, TOPICS, MEMO = (key(n) for n in range(1, 7))

ATTRIBUTE_FIELDS = [
    block("choice", 1, label="性別", required=True, choices=["男性", "女性", "その他"], allow_no_answer=True),
    block("birth_year", 2, label="生まれ年", required=True),
    block("choice", 3, label="お住まいの地区", required=True, choices=["盛町", "大船渡町", "末崎町"]),
    block("choices", 4, label="勤務先・通学先の地区", required=False, choices=["盛町", "大船渡町", "末崎町"]),
    block(
        "choices",
        5,
        label="受け取りたい情報",
        required=True,
        choices=["防災・防犯", "クマ出没情報", "子育て"],
    ),
    block("singleline", 6, label="職員メモ", required=False, staff_only=True),
]

# 女性, born 1987, lives in 盛町, works in 大船渡町, wants 防災・防犯 and クマ出没情報.
FIRST_POST: dict[str, Any] = {
    GENDER: "c1-1",
    BIRTH_YEAR: "1987",
    DISTRICT: "c3-0",
    WORK: ["c4-1"],
    TOPICS: ["c5-0", "c5-1"],
}
FIRST_ANSWERS: dict[str, Any] = {
    GENDER: "c1-1",
    BIRTH_YEAR: 1987,
    DISTRICT: "c3-0",
    WORK: ["c4-1"],
    TOPICS: ["c5-0", "c5-1"],
}


@pytest.fixture
def attribute_page(db: None) -> AttributeFormPage:
    home = Page.objects.get(depth=2)
    page = AttributeFormPage(title="受信設定", slug="jushin", form_fields=ATTRIBUTE_FIELDS)
    home.add_child(instance=page)
    page.save_revision().publish()
    page.refresh_from_db()
    return page


@pytest.fixture
def identified(
    liff_app: str,  # noqa: F811 - the imported fixture
    emu: EmulatorControl,
) -> Callable[[str], tuple[Client, str]]:
    """A new resident who opened the LIFF app: a client LINE vouched for, and their user id.

    Unless ``agreed=False``, the resident has also agreed to the terms in force on My Page (as
    they must before the 受信設定 form shows).
    """

    def _identified(name: str, *, agreed: bool = True) -> tuple[Client, str]:
        client = Client()
        user_id, token = opens_app(emu, name)
        assert identify(client, token).status_code == 200
        if agreed:
            terms = terms_in_force()
            assert terms is not None
            response = client.post(AGREE, {"terms": terms.pk, "agree": "yes"})
            assert response.status_code == 302, response.content.decode()
        return client, user_id

    return _identified
