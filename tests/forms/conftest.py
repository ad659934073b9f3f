"""Form pages built in code with fixed block ids, so field keys and choice codes are known."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from PIL import Image
from wagtail.models import Page

from home.forms.blocks import key_for
from home.models import FormPage, StandardPage


def bid(n: int) -> str:
    """A block id (uuid format) whose field key is ``f_<n as 12 hex digits>``."""
    return f"{n:08x}-{n:04x}-0000-0000-000000000000"[:36]


def key(n: int) -> str:
    return key_for(bid(n))


def block(kind: str, n: int, **value: Any) -> dict[str, Any]:
    if "choices" in value:
        value["choices"] = [
            {"type": "item", "value": label, "id": f"c{n}-{i}"} for i, label in enumerate(value["choices"])
        ]
    return {"type": kind, "value": value, "id": bid(n)}


def png_bytes(size: tuple[int, int] = (8, 8)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (11, 79, 113)).save(out, format="PNG")
    return out.getvalue()


# The demo form used across the tests: name, address, phone, birth year, a choice that shows a
# conditional free-text field, a staff-only note and an agreement.
DEMO_FIELDS = [
    block("heading", 1, **{}) | {"value": "申込者"},
    block("name", 2, label="氏名", required=True, kana="required"),
    block("address", 3, label="住所", required=True, default_address="岩手県大船渡市"),
    block("phone", 4, label="電話番号", required=True),
    block("birth_year", 5, label="生まれ年", required=False),
    block(
        "choice",
        6,
        label="参加方法",
        required=True,
        choices=["会場", "オンライン"],
        display="radio",
        allow_no_answer=True,
    ),
    block(
        "multiline",
        7,
        label="会場での配慮",
        required=True,
        max_length=200,
        condition_field="参加方法",
        condition_answer="会場",
    ),
    block("singleline", 8, label="受付メモ", required=False, staff_only=True),
    block("agree", 9, label="個人情報の取り扱いに同意します", text="申込みの受付にだけ使います。"),
]

VALID_POST = {
    f"{key(2)}_family": "大船渡",
    f"{key(2)}_given": "太郎",
    f"{key(2)}_family_kana": "おおふなと",
    f"{key(2)}_given_kana": "ﾀﾛｳ",
    f"{key(3)}_postal_code": "０２２－８５０１",
    f"{key(3)}_address": "岩手県大船渡市盛町字宇津野沢15",
    key(4): "0192（27）3111",
    key(5): "1990",
    key(6): "c6-0",
    key(7): "車いすで参加します",
    key(9): "on",
}


@pytest.fixture
def section(db: None) -> StandardPage:
    home = Page.objects.get(depth=2)
    section: StandardPage = home.add_child(instance=StandardPage(title="防災・安全", slug="bousai"))
    return section


@pytest.fixture
def make_form(section: StandardPage) -> Callable[..., FormPage]:
    def _make(
        fields: list[dict[str, Any]] | None = None, *, slug: str = "moushikomi", **extra: Any
    ) -> FormPage:
        page = FormPage(title="防災講座の申込み", slug=slug, form_fields=fields or DEMO_FIELDS, **extra)
        section.add_child(instance=page)
        page.save_revision().publish()
        page.refresh_from_db()
        return page

    return _make
