"""LINE 受信イベント: what LINE posted to the webhook and what became of it (a read-only report).

Staff see that a resident's follow, message or tap arrived and was processed (処理済み), was not
for any feature (対象外: e.g. a text before the chatbot exists) or failed, with its error. The
content of messages is personal data and is not shown; the sender is shown by display name.
Above the list: events per state in the last 24 hours and the webhook requests refused since
the counts were last cleared, per reason (forged or missing signatures, oversized bodies, ...).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import timedelta
from typing import Any

import django_filters
from django.db.models import Count, QuerySet
from django.utils import timezone
from wagtail.admin.filters import DateRangePickerWidget, WagtailFilterSet
from wagtail.admin.ui.tables import Column
from wagtail.admin.views.reports.base import ReportView
from wagtail.permission_policies import ModelPermissionPolicy

from kairan.core.export_views import SpreadsheetExportViewMixin
from kairan.manual.help import HelpLinkMixin
from line_channel.models import Follower, WebhookEvent
from line_channel.views_followers import local_time
from line_channel.webhook import rejection_counts

EVENT_TYPES = {
    "follow": "友だち追加・ブロック解除",
    "unfollow": "ブロック",
    "message": "メッセージ",
    "postback": "ボタン操作（ポストバック）",
    "join": "グループ参加",
    "leave": "グループ退出",
    "memberJoined": "メンバー参加",
    "memberLeft": "メンバー退出",
    "beacon": "ビーコン",
    "accountLink": "アカウント連携",
    "things": "LINE Things",
    "unsend": "送信取消",
    "videoPlayComplete": "動画の視聴完了",
    "membership": "メンバーシップ",
    "module": "モジュール",
    "activated": "チャネル有効化",
    "deactivated": "チャネル無効化",
    "botSuspended": "ボット停止",
    "botResumed": "ボット再開",
}
REJECTION_REASONS = {
    "bad_signature": "署名が一致しない（なりすまし・改ざんの疑い）",
    "missing_signature": "署名がない",
    "too_large": "大きすぎる",
    "malformed": "形式が正しくない",
    "not_configured": "チャネルシークレット未設定",
}


def event_type_label(event: WebhookEvent) -> str:
    return EVENT_TYPES.get(event.event_type, f"その他（{event.event_type}）")


def decorate(object_list: Iterable[WebhookEvent]) -> list[WebhookEvent]:
    """Sender names (one query per 500 senders) and notes on each event."""
    events = list(object_list)
    if events and hasattr(events[0], "note"):
        return events  # decorated already
    user_ids = sorted({event.source_user_id for event in events if event.source_user_id})
    names: dict[str, str] = {}
    for offset in range(0, len(user_ids), 500):
        chunk = user_ids[offset : offset + 500]
        names.update(
            Follower.objects.filter(line_user_id__in=chunk).values_list("line_user_id", "display_name")
        )
    for event in events:
        notes = []
        if event.redelivered:
            notes.append("LINE からの再送")
        if event.duplicates:
            notes.append(f"重複受信 {event.duplicates}回（1回だけ処理）")
        if event.error:
            notes.append(f"エラー: {event.error[:200]}")
        event.sender_name = names.get(event.source_user_id) or ("（不明）" if event.source_user_id else "")  # type: ignore[attr-defined]
        event.note = "／".join(notes)  # type: ignore[attr-defined]
    return events


class _DecoratedExport:
    """An export's queryset, decorated chunk by chunk while it streams."""

    def __init__(self, queryset: QuerySet[WebhookEvent]) -> None:
        self.queryset = queryset

    def count(self) -> int:
        return self.queryset.count()

    def iterator(self, chunk_size: int = 2000) -> Iterator[WebhookEvent]:
        batch: list[WebhookEvent] = []
        for event in self.queryset.iterator(chunk_size=chunk_size):
            batch.append(event)
            if len(batch) >= chunk_size:
                yield from decorate(batch)
                batch = []
        yield from decorate(batch)


class WebhookEventFilterSet(WagtailFilterSet):
    state = django_filters.ChoiceFilter(
        label="状態", choices=WebhookEvent.State.choices, empty_label="すべて"
    )
    event_type = django_filters.ChoiceFilter(
        label="種類", choices=sorted(EVENT_TYPES.items(), key=lambda item: item[1]), empty_label="すべて"
    )
    received_at = django_filters.DateFromToRangeFilter(
        label="受信日（開始日・終了日）", widget=DateRangePickerWidget
    )

    class Meta:
        model = WebhookEvent
        fields: list[str] = []


class WebhookEventsView(HelpLinkMixin, SpreadsheetExportViewMixin, ReportView):
    page_title = "LINE 受信イベント"
    header_icon = "mail"
    help_page = "line-settings"
    index_url_name = "line_channel_events:index"
    index_results_url_name = "line_channel_events:results"
    results_template_name = "line_channel/events_results.html"
    filterset_class = WebhookEventFilterSet
    permission_policy = ModelPermissionPolicy(WebhookEvent)
    permission_required = "view"
    paginate_by = 50
    default_ordering = "-received_at"
    columns = [
        Column(
            "received_at",
            label="受信日時",
            accessor=lambda e: local_time(e.received_at),
            sort_key="received_at",
        ),
        Column("event_type", label="種類", accessor=event_type_label, sort_key="event_type"),
        Column("sender", label="送った人", accessor=lambda e: getattr(e, "sender_name", "")),
        Column("state", label="状態", accessor=lambda e: e.get_state_display(), sort_key="state"),
        Column("processed_at", label="処理日時", accessor=lambda e: local_time(e.processed_at)),
        Column("note", label="備考", accessor=lambda e: getattr(e, "note", "")),
    ]
    export_name = "LINE 受信イベント"
    export_filename_stem = "line-events"
    export_columns = (
        ("受信日時", lambda e: local_time(e.received_at)),
        ("発生日時", lambda e: local_time(e.occurred_at)),
        ("種類", event_type_label),
        ("送った人", lambda e: getattr(e, "sender_name", "")),
        ("状態", lambda e: e.get_state_display()),
        ("処理日時", lambda e: local_time(e.processed_at)),
        ("処理回数", lambda e: e.attempts),
        ("備考", lambda e: getattr(e, "note", "")),
        ("イベントID", lambda e: e.event_id),
    )

    def get_queryset(self) -> QuerySet[WebhookEvent]:
        return self.order_queryset(WebhookEvent.objects.defer("payload"))

    def get_table(self, object_list: Any) -> Any:
        return super().get_table(decorate(object_list))

    def decorate_paginated_queryset(self, object_list: Any) -> Any:
        if self.is_export:
            return _DecoratedExport(object_list)
        return decorate(object_list)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        if self.is_export:
            return context
        since = timezone.now() - timedelta(hours=24)
        per_state = dict(
            WebhookEvent.objects.filter(received_at__gte=since)
            .values_list("state")
            .annotate(n=Count("id"))
            .values_list("state", "n")
        )
        context["state_counts"] = [
            (label, per_state.get(value, 0)) for value, label in WebhookEvent.State.choices
        ]
        counts = rejection_counts()
        context["rejections"] = [
            (label, counts.get(reason, 0)) for reason, label in REJECTION_REASONS.items()
        ]
        return context
