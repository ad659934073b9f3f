"""Demo data of 配信: a 配信グループ for the issue's example and a draft delivery that uses it."""

from __future__ import annotations

from typing import Any

from deliveries.audience import attribute_fields, validate
from deliveries.models import Audience, Category, Delivery, Segment, Timing

SEGMENT_NAME = "盛町に住むか通う60歳以上（クマ出没情報を希望）"


def _field(label: str) -> Any:
    return next(info for info in attribute_fields().values() if info.label == label)


def _code(info: Any, label: str) -> str:
    return next(code for code, name in info.choices if name == label)


def seed_deliveries(*, author: Any) -> Segment | None:
    """Idempotent; needs the demo 受信設定 form (its item labels)."""
    try:
        district, work = _field("お住まいの地区"), _field("勤務先・通学先の地区")
        born, topics = _field("生まれ年"), _field("受け取りたい情報")
    except StopIteration:
        return None
    definition = validate(
        {
            "op": "and",
            "items": [
                {
                    "op": "or",
                    "items": [
                        {
                            "type": "choice",
                            "field": district.key,
                            "match": "any",
                            "codes": [_code(district, "盛町")],
                        },
                        {"type": "choice", "field": work.key, "match": "any", "codes": [_code(work, "盛町")]},
                    ],
                },
                {"type": "age", "field": born.key, "min": 60, "max": None},
                {
                    "type": "choice",
                    "field": topics.key,
                    "match": "any",
                    "codes": [_code(topics, "クマ出没情報")],
                },
            ],
        }
    )
    segment, _ = Segment.objects.update_or_create(
        name=SEGMENT_NAME,
        defaults={
            "definition": definition,
            "description": "クマ出没情報の例。盛町周辺の高齢の方に届けます。",
        },
    )
    if not Delivery.objects.filter(title="【下書きの例】クマの目撃情報（盛町）").exists():
        delivery = Delivery(
            title="【下書きの例】クマの目撃情報（盛町）",
            category=Category.DISASTER,
            messages=[
                (
                    "text",
                    "【大船渡市】盛町でクマが目撃されました。外出のときは鈴やラジオなど音の出るものを持ち、"
                    "見かけたら近づかずに市役所（農林課）へ連絡してください。",
                )
            ],
            audience=Audience.SEGMENT,
            segment=segment,
            timing=Timing.NOW,
            created_by=author,
            live=False,
        )
        delivery.save()
        delivery.save_revision(user=author)
    return segment
