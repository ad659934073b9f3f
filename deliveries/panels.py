"""The 配信の概要 panel at the top of the delivery editor, for the author and the approver alike:
whom it reaches now, whether it needs approval, this month's LINE quota and the impact of this
send, LINE's own check of the messages, personal-data warnings, test sends and the runs with
their progress. It imports no models at module level (``deliveries.models`` imports it)."""

from __future__ import annotations

import logging
from typing import Any

from django.core.cache import cache
from django.urls import reverse
from wagtail.admin.panels import Panel

log = logging.getLogger(__name__)

QUOTA_CACHE_KEY = "deliveries:quota"
QUOTA_CACHE_SECONDS = 300


def quota() -> dict[str, Any] | None:
    """This month's quota and consumption from LINE (cached five minutes), or None if unknown."""
    cached = cache.get(QUOTA_CACHE_KEY)
    if cached is not None:
        return dict(cached)
    from line_channel.gateway import Gateway, LineApiError

    try:
        with Gateway.from_settings(attempts=1) as gateway:
            found = gateway.quota()
    except (LineApiError, OSError, ValueError) as error:
        log.info("LINE quota unavailable: %s", error)
        return None
    value = {"limited": found.limited, "limit": found.limit, "used": found.used}
    cache.set(QUOTA_CACHE_KEY, value, QUOTA_CACHE_SECONDS)
    return value


def quota_impact(estimate: int) -> dict[str, Any] | None:
    """The quota with this send's estimate: remaining before/after and whether it would exceed."""
    found = quota()
    if found is None:
        return None
    remaining = None if not found["limited"] or found["limit"] is None else found["limit"] - found["used"]
    return {
        **found,
        "estimate": estimate,
        "remaining": remaining,
        "after": None if remaining is None else remaining - estimate,
        "exceeds": remaining is not None and estimate > remaining,
    }


def line_check(messages: list[dict[str, Any]]) -> tuple[bool | None, str]:
    """LINE's message-validation endpoint: (ok, Japanese text); ok is None when LINE was not reached."""
    from line_channel.gateway import Gateway, LineApiError

    try:
        with Gateway.from_settings(attempts=1) as gateway:
            gateway.validate_messages(kind="multicast", messages=messages)
    except LineApiError as error:
        if error.retryable:
            return None, "LINE に接続できないため確認できませんでした。"
        return False, f"LINE がこのメッセージを受け付けません: {error}"
    except (OSError, ValueError) as error:
        return None, f"LINE に接続できないため確認できませんでした（{error}）。"
    return True, "LINE の形式チェックに合格しています。"


def summary(delivery: Any) -> dict[str, Any]:
    """Everything the panel shows about a saved delivery (its latest draft)."""
    from django.core.exceptions import ValidationError

    from deliveries import audience, fanout, services
    from deliveries.line_messages import personal_data_warnings, to_line_messages
    from deliveries.models import DeliveryRun, Timing
    from deliveries.recurrence import RecurrenceError, describe, validate

    info: dict[str, Any] = {"delivery": delivery}
    definition = delivery.segment_definition()
    try:
        info["count"] = services.audience_count(delivery)
        info["audience_text"] = audience.describe(definition)
    except audience.SegmentError as error:
        info["count"], info["audience_error"] = None, str(error)
    count = info["count"] or 0
    info["needs_approval"] = services.requires_approval(delivery, count=count)
    info["approval_rules"] = services.DeliverySettings.load()
    if delivery.timing == Timing.RECURRING:
        try:
            info["schedule_text"] = describe(validate(delivery.recurrence_dict()))
        except RecurrenceError as error:
            info["schedule_error"] = str(error)
    try:
        messages = to_line_messages(delivery.messages)
    except (ValidationError, ValueError) as error:
        messages, info["messages_error"] = [], str(error)
    info["message_count"] = len(messages)
    info["warnings"] = personal_data_warnings(delivery.messages)
    if messages:
        info["line_ok"], info["line_text"] = line_check(messages)
    info["quota"] = quota_impact(count)
    info["testers"] = services.testers()
    runs = list(DeliveryRun.objects.filter(delivery=delivery).order_by("-scheduled_for", "-pk")[:10])
    info["runs"] = [
        (run, fanout.progress(run) if run.state == DeliveryRun.State.SENDING else None) for run in runs
    ]
    info["sent"] = (
        any(run.kind != DeliveryRun.Kind.TEST and run.started_at is not None for run in runs)
        and delivery.timing != Timing.RECURRING
    )
    return info


class DeliverySummaryPanel(Panel):
    class BoundPanel(Panel.BoundPanel):
        template_name = "deliveries/summary_panel.html"

        def get_context_data(self, parent_context: Any = None) -> dict[str, Any]:
            context: dict[str, Any] = super().get_context_data(parent_context)
            instance = self.instance
            if instance is None or instance.pk is None:
                context["new"] = True
                return context
            context.update(summary(instance))
            context["test_url"] = reverse("deliveries_admin:test", args=[instance.pk])
            context["testers_url"] = reverse("deliveries_testers:index")
            return context
