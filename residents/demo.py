"""The demo site's 受信設定 form, with Ofunato's items (called from ``kairan.core.demo``).

Block and choice ids are fixed (uuid5 of a name), so field keys and choice codes
are the same in every demo database and the seed stays idempotent.
"""

from __future__ import annotations

import uuid
from typing import Any

from wagtail.models import Page

from residents.models import AttributeFormPage

_NAMESPACE = uuid.UUID("6f1b2c5e-3d0a-4c8e-9a51-4b6f0d2a7c11")

DISTRICTS = (
    "盛町",
    "大船渡町",
    "末崎町",
    "赤崎町",
    "猪川町",
    "立根町",
    "日頃市町",
    "三陸町越喜来",
    "三陸町綾里",
    "三陸町吉浜",
)
TOPICS = ("防災・防犯", "クマ出没情報", "子育て", "健康・福祉", "イベント・観光", "ごみ・環境", "市政情報")


def _id(name: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, name))


def _block(kind: str, name: str, **value: Any) -> dict[str, Any]:
    if "choices" in value:
        value["choices"] = [
            {"type": "item", "value": label, "id": _id(f"{name}:{label}")} for label in value["choices"]
        ]
    return {"type": kind, "value": value, "id": _id(name)}


def attribute_form_fields() -> list[dict[str, Any]]:
    return [
        _block(
            "choice",
            "gender",
            label="性別",
            required=True,
            choices=["男性", "女性", "その他"],
            allow_no_answer=True,
        ),
        _block("birth_year", "birth_year", label="生まれ年", required=True),
        _block(
            "choice",
            "district",
            label="お住まいの地区",
            required=True,
            choices=list(DISTRICTS),
            display="dropdown",
        ),
        _block(
            "choices",
            "work_district",
            label="勤務先・通学先の地区",
            required=False,
            choices=list(DISTRICTS),
            help_text="当てはまる地区をすべて選んでください（任意）。",
        ),
        _block(
            "choices",
            "topics",
            label="受け取りたい情報",
            required=True,
            choices=list(TOPICS),
            help_text="いくつでも選べます。",
        ),
    ]


def seed_attribute_form(home: Page) -> AttributeFormPage:
    """The published 受信設定 page under the demo home; an existing one is kept as it is."""
    existing = AttributeFormPage.objects.first()
    if existing is not None:
        return existing
    page = AttributeFormPage(
        title="受信設定",
        slug="jushin-settei",
        intro="<p>受け取りたい情報とお住まいの地区を教えてください。あとから何度でも変更できます。</p>",
        form_fields=attribute_form_fields(),
        submit_label="この内容で登録する",
        thank_you_text="<p>受信設定を登録しました。</p>",
    )
    home.add_child(instance=page)
    page.save_revision().publish()
    return page
