"""The JSON endpoints behind the segment builder (配信グループ and a delivery's own 条件).

- ``segment_fields``: the 受信設定 items a condition may use (choice fields with their choices,
  the birth year) and the 「友だちになった日」 pseudo-field, with the validator's limits.
- ``segment_count``: how many friends a definition reaches now, and the definition in Japanese
  words; a definition the validator refuses is a 400 with its Japanese message.

Both are for staff who may add or change a 配信グループ or a 配信; anyone else gets a 403 JSON. They
live under the Wagtail admin (``admin_urls``, returned from a ``register_admin_urls`` hook), which
also requires a signed-in member of staff with admin access.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from deliveries import audience

PERMISSIONS = (
    "deliveries.add_segment",
    "deliveries.change_segment",
    "deliveries.add_delivery",
    "deliveries.change_delivery",
)
MAX_BODY_BYTES = 64 * 1024
FRIEND_SINCE = {"key": "friend_since", "label": "友だちになった日", "type": "friend_since", "choices": []}


def can_build_segments(user: Any) -> bool:
    return any(user.has_perm(permission) for permission in PERMISSIONS)


def _json(data: dict[str, Any], *, status: int = 200) -> JsonResponse:
    response = JsonResponse(data, status=status, json_dumps_params={"ensure_ascii": False})
    response["Cache-Control"] = "no-store"
    return response


def _forbidden() -> JsonResponse:
    return _json({"error": "配信の条件を作る権限がありません。"}, status=403)


def _retired_keys() -> set[str]:
    """受信設定 items removed from the form (still known, so saved segments keep working)."""
    from home.forms.answers import columns_for_page
    from residents.models import AttributeFormPage

    page = AttributeFormPage.objects.first()
    return {column.key for column in columns_for_page(page) if column.retired} if page else set()


@require_GET
@never_cache
def segment_fields(request: HttpRequest) -> JsonResponse:
    """The items a condition may use, in the 受信設定 form's order."""
    if not can_build_segments(request.user):
        return _forbidden()
    retired = _retired_keys()
    fields: list[dict[str, Any]] = [
        {
            "key": info.key,
            "label": info.label,
            "type": "birth_year" if info.field_type == "birth_year" else "choice",
            "choices": [{"code": code, "label": label} for code, label in info.choices],
            "multiple": info.field_type == "choices",  # several answers: 「次のすべて」 makes sense
            "retired": info.key in retired,
        }
        for info in audience.attribute_fields().values()
    ]
    fields.append({**FRIEND_SINCE, "multiple": False, "retired": False})
    return _json(
        {"fields": fields, "max_depth": audience.MAX_DEPTH, "max_conditions": audience.MAX_CONDITIONS}
    )


@require_POST
@never_cache
def segment_count(request: HttpRequest) -> JsonResponse:
    """``{"definition": {...}}`` → ``{"count": n, "text": "…"}``, or 400 ``{"error": "…"}``."""
    if not can_build_segments(request.user):
        return _forbidden()
    too_large = _json({"error": "条件が大きすぎます。条件の数を減らしてください。"}, status=400)
    try:
        declared = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        declared = 0
    if declared > MAX_BODY_BYTES:  # refused before the body is read
        return too_large
    raw = request.body
    if len(raw) > MAX_BODY_BYTES:
        return too_large
    try:
        body = json.loads(raw or b"{}")
    except ValueError:  # JSONDecodeError and UnicodeDecodeError alike
        return _json({"error": "条件の形が正しくありません。"}, status=400)
    definition = body.get("definition") if isinstance(body, dict) else None
    fields = audience.attribute_fields()
    try:
        segment = audience.validate(definition, fields)
    except audience.SegmentError as error:
        return _json({"error": str(error)}, status=400)
    response = _json({"count": audience.count(segment), "text": audience.describe(segment, fields)})
    response.kairan_read_only = True  # type: ignore[attr-defined]  # a count writes nothing to log
    return response


admin_urls = [
    path("deliveries/segment-fields/", segment_fields, name="deliveries_segment_fields"),
    path("deliveries/segment-count/", segment_count, name="deliveries_segment_count"),
]
