"""配信: saved segments (配信グループ), deliveries authored in Wagtail, and their history.

A ``Delivery`` is a Wagtail snippet with drafts, revisions, locking, preview and the moderation
workflow; publishing its approved revision is what schedules it (``deliveries.services``). Each
send — immediate, at a time, each occurrence of a recurring series, or a test — is a
``DeliveryRun``: the history row, holding snapshots of what was sent to whom, and the fan-out's
progress (its outbox items carry ``purpose = "delivery-run:<id>"``).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.contenttypes.fields import GenericRelation
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from wagtail.admin.panels import FieldPanel, FieldRowPanel, MultiFieldPanel
from wagtail.contrib.settings.models import BaseGenericSetting, register_setting
from wagtail.fields import StreamField
from wagtail.models import (
    DraftStateMixin,
    LockableMixin,
    PreviewableMixin,
    RevisionMixin,
    WorkflowMixin,
)
from wagtail.models.workflows import AbstractGroupApprovalTask

from deliveries.blocks import MessageStreamBlock
from deliveries.forms import DeliveryForm
from deliveries.panels import DeliverySummaryPanel
from deliveries.widgets import SegmentBuilderWidget
from kairan.staff.roles import ROLES

RUN_PURPOSE = "delivery-run:"


def empty_segment() -> dict[str, Any]:
    return {"op": "and", "items": []}


class Segment(models.Model):
    """配信グループ: a named segment staff build once and choose in many deliveries."""

    name = models.CharField("名前", max_length=100, unique=True)
    description = models.TextField(
        "説明", blank=True, help_text="どんな人に届けるグループか、職員向けのメモです。"
    )
    definition = models.JSONField("条件", default=empty_segment)
    created_at = models.DateTimeField("作成日時", auto_now_add=True)
    updated_at = models.DateTimeField("更新日時", auto_now=True)

    panels = [
        FieldPanel("name"),
        FieldPanel("description"),
        FieldPanel("definition", widget=SegmentBuilderWidget()),
    ]

    class Meta:
        verbose_name = "配信グループ"
        verbose_name_plural = "配信グループ"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from deliveries.audience import SegmentError, validate

        try:
            self.definition = validate(self.definition)
        except SegmentError as error:
            raise ValidationError({"definition": str(error)}) from error


class Category(models.TextChoices):
    DISASTER = "disaster", "防災"
    CHILDCARE = "childcare", "子育て"
    HEALTH = "health", "健康・福祉"
    GARBAGE = "garbage", "ごみ・環境"
    EVENT = "event", "イベント"
    TOURISM = "tourism", "観光"
    ADMIN = "admin", "行政・手続き"
    OTHER = "other", "その他"


class Audience(models.TextChoices):
    ALL = "all", "友だち全員"
    SEGMENT = "segment", "配信グループから選ぶ"
    CUSTOM = "custom", "この配信だけの条件を指定する"


class Timing(models.TextChoices):
    NOW = "now", "承認されたらすぐに送る"
    AT = "at", "日時を指定して送る（予約）"
    RECURRING = "recurring", "繰り返し送る"


class Frequency(models.TextChoices):
    DAILY = "daily", "毎日"
    WEEKLY = "weekly", "毎週（曜日を選ぶ）"
    MONTHLY_DATE = "monthly_date", "毎月（日付）"
    MONTHLY_NTH = "monthly_nth", "毎月（第◯◯曜日）"
    MONTH_END = "month_end", "毎月末日"


WEEKDAYS = [(0, "月"), (1, "火"), (2, "水"), (3, "木"), (4, "金"), (5, "土"), (6, "日")]
NTH_CHOICES = [(1, "第1"), (2, "第2"), (3, "第3"), (4, "第4"), (5, "第5"), (-1, "最終")]


class Delivery(WorkflowMixin, DraftStateMixin, LockableMixin, RevisionMixin, PreviewableMixin, models.Model):
    """配信: what to send (up to five LINE messages), to whom, and when."""

    title = models.CharField(
        "管理用タイトル",
        max_length=200,
        help_text="職員が配信を見分けるための名前です。市民には表示されません。",
    )
    category = models.CharField("分類", max_length=20, choices=Category.choices, default=Category.OTHER)
    department = models.ForeignKey(
        Group,
        verbose_name="配信元の部署",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        limit_choices_to=~models.Q(name__in=ROLES),
        related_name="+",
    )
    messages = StreamField(MessageStreamBlock(), verbose_name="メッセージ")
    notification_disabled = models.BooleanField(
        "通知音を鳴らさずに送る", default=False, help_text="夜間や急ぎでないお知らせに使います。"
    )
    audience = models.CharField("送る相手", max_length=10, choices=Audience.choices, default=Audience.SEGMENT)
    segment = models.ForeignKey(
        Segment,
        verbose_name="配信グループ",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    conditions = models.JSONField("条件", default=empty_segment, blank=True)
    timing = models.CharField("送るとき", max_length=10, choices=Timing.choices, default=Timing.AT)
    send_at = models.DateTimeField("配信日時", null=True, blank=True)
    repeat_frequency = models.CharField(
        "繰り返し", max_length=20, choices=Frequency.choices, default=Frequency.WEEKLY, blank=True
    )
    repeat_weekdays = models.JSONField("曜日", default=list, blank=True)
    repeat_day = models.PositiveSmallIntegerField(
        "日付", null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(31)]
    )
    repeat_nth = models.SmallIntegerField("第◯週", null=True, blank=True, choices=NTH_CHOICES)
    repeat_nth_weekday = models.PositiveSmallIntegerField("曜日", null=True, blank=True, choices=WEEKDAYS)
    repeat_time = models.TimeField("時刻", null=True, blank=True)
    repeat_start = models.DateField("開始日", null=True, blank=True)
    repeat_end = models.DateField("終了日", null=True, blank=True, help_text="空欄なら終わりなく続けます。")
    skip_holidays = models.BooleanField("祝日は送らない", default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="作成者",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField("作成日時", auto_now_add=True)
    updated_at = models.DateTimeField("更新日時", auto_now=True)

    _revisions = GenericRelation("wagtailcore.Revision", related_query_name="delivery")
    workflow_states = GenericRelation(
        "wagtailcore.WorkflowState",
        content_type_field="base_content_type",
        object_id_field="object_id",
        related_query_name="delivery",
        for_concrete_model=False,
    )

    base_form_class = DeliveryForm
    panels = [
        DeliverySummaryPanel(heading="配信の概要"),
        MultiFieldPanel(
            [FieldPanel("title"), FieldRowPanel([FieldPanel("category"), FieldPanel("department")])],
            heading="管理用の情報",
        ),
        FieldPanel("messages"),
        FieldPanel("notification_disabled"),
        MultiFieldPanel(
            [
                FieldPanel("audience"),
                FieldPanel("segment", widget=forms.Select),  # (the chooser's inline script breaks the CSP)
                FieldPanel("conditions", widget=SegmentBuilderWidget()),
            ],
            heading="送る相手",
        ),
        MultiFieldPanel(
            [
                FieldPanel("timing"),
                FieldPanel("send_at"),
                FieldPanel("repeat_frequency"),
                FieldPanel("repeat_weekdays"),
                FieldRowPanel(
                    [FieldPanel("repeat_day"), FieldPanel("repeat_nth"), FieldPanel("repeat_nth_weekday")]
                ),
                FieldRowPanel(
                    [FieldPanel("repeat_time"), FieldPanel("repeat_start"), FieldPanel("repeat_end")]
                ),
                FieldPanel("skip_holidays"),
            ],
            heading="送るとき",
        ),
    ]

    class Meta:
        verbose_name = "配信"
        verbose_name_plural = "配信"
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return self.title

    @property
    def revisions(self) -> Any:
        return self._revisions

    # --- what it is --------------------------------------------------------------------------

    def segment_definition(self) -> dict[str, Any] | None:
        """The segment to evaluate, or None for 友だち全員."""
        if self.audience == Audience.ALL:
            return None
        if self.audience == Audience.SEGMENT:
            return self.segment.definition if self.segment_id and self.segment else empty_segment()
        return self.conditions or empty_segment()

    def recurrence_dict(self) -> dict[str, Any]:
        return {
            "frequency": self.repeat_frequency,
            "at": self.repeat_time.strftime("%H:%M")
            if isinstance(self.repeat_time, time)
            else self.repeat_time,
            "start": self.repeat_start.isoformat()
            if isinstance(self.repeat_start, date)
            else self.repeat_start,
            "end": self.repeat_end.isoformat() if isinstance(self.repeat_end, date) else self.repeat_end,
            "weekdays": [int(day) for day in self.repeat_weekdays or []],
            "day": self.repeat_day,
            "nth": self.repeat_nth,
            "nth_weekday": self.repeat_nth_weekday,
            "skip_holidays": self.skip_holidays,
        }

    def clean(self) -> None:
        from deliveries.audience import SegmentError, validate
        from deliveries.recurrence import RecurrenceError
        from deliveries.recurrence import validate as validate_recurrence

        errors: dict[str, str] = {}
        if self.audience == Audience.SEGMENT and not self.segment_id:
            errors["segment"] = "配信グループを選んでください。"
        if self.audience == Audience.CUSTOM:
            try:
                self.conditions = validate(self.conditions or empty_segment())
            except SegmentError as error:
                errors["conditions"] = str(error)
        if self.timing == Timing.AT:
            if self.send_at is None:
                errors["send_at"] = "配信日時を入力してください。"
        elif self.timing == Timing.RECURRING:
            try:
                validate_recurrence(self.recurrence_dict())
            except RecurrenceError as error:
                errors["repeat_frequency"] = str(error)
        if errors:
            raise ValidationError(errors)

    # --- preview -----------------------------------------------------------------------------

    def get_preview_template(self, request: Any, mode_name: str) -> str:
        return "deliveries/preview_page.html"

    def get_preview_context(self, request: Any, mode_name: str) -> dict[str, Any]:
        from deliveries.line_messages import personal_data_warnings, preview_context, to_line_messages

        context: dict[str, Any] = super().get_preview_context(request, mode_name)
        try:
            messages = to_line_messages(self.messages)
        except (ValidationError, ValueError) as error:
            messages, context["preview_error"] = [], str(error)
        context.update(preview_context(messages))
        context["warnings"] = personal_data_warnings(self.messages)
        return context


class DeliveryRun(models.Model):
    """One send of a delivery: the 配信履歴 row, with snapshots and the fan-out's progress."""

    class Kind(models.TextChoices):
        NOW = "now", "即時"
        AT = "at", "予約"
        RECURRING = "recurring", "繰り返し"
        TEST = "test", "テスト"

    class State(models.TextChoices):
        SCHEDULED = "scheduled", "予約済み"
        SENDING = "sending", "配信中"
        DONE = "done", "配信完了"
        PARTIAL = "partial", "一部失敗"
        FAILED = "failed", "失敗"
        CANCELLED = "cancelled", "取消"
        STOPPED = "stopped", "停止"

    delivery = models.ForeignKey(
        Delivery, verbose_name="配信", null=True, on_delete=models.SET_NULL, related_name="runs"
    )
    revision = models.ForeignKey(
        "wagtailcore.Revision", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField("種類", max_length=10, choices=Kind.choices)
    state = models.CharField("状態", max_length=10, choices=State.choices, default=State.SCHEDULED)
    scheduled_for = models.DateTimeField("配信予定日時", db_index=True)
    started_at = models.DateTimeField("開始日時", null=True, blank=True)
    finished_at = models.DateTimeField("終了日時", null=True, blank=True)
    # snapshots (what was sent, to whom, by whom: the history must not change when the delivery does)
    title = models.CharField("管理用タイトル", max_length=200)
    category = models.CharField("分類", max_length=20, choices=Category.choices, blank=True)
    department = models.CharField("配信元の部署", max_length=150, blank=True)
    messages = models.JSONField("メッセージ", default=list)
    message_count = models.PositiveSmallIntegerField("メッセージ数", default=1)
    notification_disabled = models.BooleanField("通知なし", default=False)
    audience = models.CharField("送る相手", max_length=10, choices=Audience.choices, default=Audience.ALL)
    segment_name = models.CharField("配信グループ", max_length=100, blank=True)
    segment = models.JSONField("条件", null=True, blank=True)
    segment_text = models.TextField("条件（説明）", blank=True)
    author = models.CharField("作成者", max_length=150, blank=True)
    approver = models.CharField("承認者", max_length=150, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # fan-out
    key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    target_count = models.PositiveIntegerField("対象人数", null=True, blank=True)
    cursor = models.BigIntegerField(default=0)  # the last resident / friend id materialised
    chunks_total = models.PositiveIntegerField("送信単位", default=0)
    recipients_total = models.PositiveIntegerField("宛先数", default=0)
    materialised = models.BooleanField(default=False)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    sent_count = models.PositiveIntegerField("送信数", default=0)
    failed_count = models.PositiveIntegerField("失敗数", default=0)
    blocked_24h = models.PositiveIntegerField("24時間以内のブロック", null=True, blank=True)
    error = models.TextField("エラー", blank=True)
    cancelled_by = models.CharField("取消・停止した職員", max_length=150, blank=True)

    class Meta:
        verbose_name = "配信履歴"
        verbose_name_plural = "配信履歴"
        ordering = ["-scheduled_for", "-pk"]
        constraints = [
            # One run per occurrence: a scheduler that runs twice cannot send twice.
            models.UniqueConstraint(
                fields=["delivery", "scheduled_for"],
                condition=~models.Q(kind="test"),
                name="deliveries_run_once_per_time",
            )
        ]
        indexes = [models.Index(fields=["state", "scheduled_for"], name="deliveries_run_due")]

    def __str__(self) -> str:
        when = timezone.localtime(self.scheduled_for)
        return f"{self.title}（{self.get_kind_display()} {when:%Y-%m-%d %H:%M}）"

    @property
    def purpose(self) -> str:
        return f"{RUN_PURPOSE}{self.pk}"

    @property
    def is_test(self) -> bool:
        return self.kind == self.Kind.TEST

    @property
    def is_pending(self) -> bool:
        return self.state in (self.State.SCHEDULED, self.State.SENDING)

    @property
    def line_messages_sent(self) -> int:
        """LINE counts one message per recipient per request, whatever the number of bubbles."""
        return self.sent_count


class Tester(models.Model):
    """A friend who receives test sends (テスト配信): usually a staff member's own LINE account."""

    follower = models.OneToOneField(
        "line_channel.Follower", verbose_name="友だち", on_delete=models.CASCADE, related_name="tester"
    )
    label = models.CharField(
        "名前（職員向け）", max_length=100, help_text="例: 防災課 大船渡（個人のスマホ）"
    )
    added_by = models.CharField("登録した職員", max_length=150, blank=True)
    added_at = models.DateTimeField("登録日時", auto_now_add=True)

    class Meta:
        verbose_name = "テスター"
        verbose_name_plural = "テスター"
        ordering = ["label"]

    def __str__(self) -> str:
        return self.label

    @classmethod
    def line_user_ids(cls) -> list[str]:
        """The LINE user ids of the testers who are friends now (test sends, 災害モード訓練)."""
        from line_channel.models import Follower

        rows = cls.objects.filter(follower__status=Follower.Status.FOLLOWING)
        return [str(user_id) for user_id in rows.values_list("follower__line_user_id", flat=True)]


@register_setting(icon="mail")
class DeliverySettings(BaseGenericSetting):
    """Who must approve a delivery (配信の承認)."""

    approval_threshold = models.PositiveIntegerField(
        "承認が必要になる人数",
        default=100,
        help_text="この人数より多くの友だちに送る配信は、作成者以外の承認者の承認が必要です。",
    )
    approval_for_all_friends = models.BooleanField("友だち全員への配信は必ず承認を受ける", default=True)
    approval_for_recurring = models.BooleanField("繰り返し配信は必ず承認を受ける", default=False)

    class Meta:
        verbose_name = "配信の承認"

    def requires_approval(self, *, audience: str, count: int, recurring: bool) -> bool:
        if audience == Audience.ALL and self.approval_for_all_friends:
            return True
        if recurring and self.approval_for_recurring:
            return True
        return count > self.approval_threshold


class DeliveryApprovalTask(AbstractGroupApprovalTask):
    """The approval step of 配信の承認: like Wagtail's group approval, but never by the author.

    Whoever submitted the delivery (and whoever last edited the revision under review) sees no
    approve / reject actions on it, so a delivery that needs approval always has a second person.
    """

    def _is_authors(self, obj: Any, user: Any) -> bool:
        state = getattr(obj, "current_workflow_state", None)
        if state is not None and state.requested_by_id == user.pk:
            return True
        revision = obj.get_latest_revision() if hasattr(obj, "get_latest_revision") else None
        return bool(revision is not None and revision.user_id == user.pk)

    def get_actions(self, obj: Any, user: Any) -> list[tuple[str, str, bool]]:
        if self._is_authors(obj, user):
            return []
        actions: list[tuple[str, str, bool]] = super().get_actions(obj, user)
        return actions

    def locked_for_user(self, obj: Any, user: Any) -> bool:
        locked: bool = super().locked_for_user(obj, user)
        return locked

    @classmethod
    def get_description(cls) -> str:
        return "承認者グループの、作成者以外の職員が承認します。"

    class Meta:
        verbose_name = "配信の承認（作成者以外）"
        verbose_name_plural = "配信の承認（作成者以外）"


def local(value: datetime) -> datetime:
    return timezone.localtime(value)
