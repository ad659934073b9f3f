"""リッチメニュー: menu sets authored in Wagtail, and what of them is published on LINE.

A ``MenuSet`` (メニューセット) is a Wagtail snippet with drafts, revisions, locking, preview,
the moderation workflow and scheduled publishing; its tabs are a StreamField (``blocks``), each
tab one LINE rich menu. Publishing a revision in Wagtail publishes it to LINE
(``richmenus.publish``): every tab becomes a new LINE rich menu, the set's aliases (one per tab,
stable across revisions) move to the new menus, and the old menus are deleted afterwards.
``PublishedMenu`` records each LINE rich menu we made, so publishing is idempotent and nothing is
left behind on LINE.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.contenttypes.fields import GenericRelation
from django.core.exceptions import ValidationError
from django.db import models
from wagtail.admin.panels import FieldPanel, FieldRowPanel, HelpPanel, MultiFieldPanel
from wagtail.contrib.settings.models import BaseGenericSetting, register_setting
from wagtail.fields import StreamField
from wagtail.models import DraftStateMixin, LockableMixin, PreviewableMixin, RevisionMixin, WorkflowMixin

from line_channel.richmenu_design.themes import THEMES
from richmenus.blocks import TabStreamBlock

ALIAS_PREFIX = "kairan"
SEGMENT_OR_DEFAULT = (
    "「友だち全員のメニュー」にするセットには配信グループを選べません。どちらかにしてください。"
)
EMERGENCY_ONLY = (
    "災害時のセットは災害モードで切り替えて表示します。友だち全員のメニューや配信グループには設定できません。"
)


class MenuSet(WorkflowMixin, DraftStateMixin, LockableMixin, RevisionMixin, PreviewableMixin, models.Model):
    """メニューセット: 1 to 5 tabs, each one LINE rich menu, switched with aliases."""

    class Purpose(models.TextChoices):
        NORMAL = "normal", "通常"
        EMERGENCY = "emergency", "災害時"

    name = models.CharField(
        "名前", max_length=100, help_text="職員が見分けるための名前です（例: 通常メニュー 2027年度）。"
    )
    purpose = models.CharField(
        "用途",
        max_length=10,
        choices=Purpose.choices,
        default=Purpose.NORMAL,
        help_text="「災害時」のセットは災害モードで切り替えて使います。",
    )
    theme = models.CharField(
        "配色",
        max_length=20,
        choices=[(key, theme.name) for key, theme in THEMES.items()],
        default="sea",
        help_text="自動で作る画像の配色です。",
    )
    is_default = models.BooleanField(
        "友だち全員のメニューにする",
        default=False,
        help_text="公開すると、個別のメニューがない友だち全員にこのセットの1つ目のタブが表示されます。",
    )
    segment = models.ForeignKey(
        "deliveries.Segment",
        verbose_name="この配信グループの人だけに表示する",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=(
            "選ぶと、公開したときにこのグループの友だち一人ひとりにこのセットを表示します"
            "（友だち全員のメニューより優先されます）。"
        ),
    )
    tabs = StreamField(TabStreamBlock(), verbose_name="タブ")
    created_at = models.DateTimeField("作成日時", auto_now_add=True)
    updated_at = models.DateTimeField("更新日時", auto_now=True)

    _revisions = GenericRelation("wagtailcore.Revision", related_query_name="menu_set")
    workflow_states = GenericRelation(
        "wagtailcore.WorkflowState",
        content_type_field="base_content_type",
        object_id_field="object_id",
        related_query_name="menu_set",
        for_concrete_model=False,
    )

    panels = [
        HelpPanel(template="richmenus/help_panel.html", heading="使い方"),
        MultiFieldPanel(
            [
                FieldPanel("name"),
                FieldRowPanel([FieldPanel("purpose"), FieldPanel("theme")]),
                FieldPanel("is_default"),
                FieldPanel("segment", widget=forms.Select),  # (the chooser's inline script breaks the CSP)
            ],
            heading="メニューセット",
        ),
        FieldPanel("tabs"),
    ]

    class Meta:
        verbose_name = "メニューセット"
        verbose_name_plural = "メニューセット"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        if self.is_default and self.segment_id is not None:
            raise ValidationError({"segment": SEGMENT_OR_DEFAULT})
        if self.purpose == self.Purpose.EMERGENCY and (self.is_default or self.segment_id is not None):
            raise ValidationError({"purpose": EMERGENCY_ONLY})

    @property
    def revisions(self) -> Any:
        return self._revisions

    def alias_id(self, tab: int) -> str:
        """The LINE alias of tab ``tab`` (1-based): the same for every revision of the set."""
        return f"{ALIAS_PREFIX}-{self.pk}-{tab}"

    def get_preview_template(self, request: Any, mode_name: str) -> str:
        return "richmenus/preview.html"

    def get_preview_context(self, request: Any, mode_name: str) -> dict[str, Any]:
        from richmenus.line_menus import preview_tabs

        context = super().get_preview_context(request, mode_name)
        context["tabs"] = preview_tabs(self)
        return context


class PublishedMenu(models.Model):
    """A LINE rich menu we created for one tab of one revision of a set."""

    class State(models.TextChoices):
        CREATED = "created", "作成済み"  # on LINE, image uploaded, not yet in use
        LIVE = "live", "公開中"  # the set's aliases point at it
        RETIRED = "retired", "置き換え済み"  # replaced: to be deleted on LINE
        DELETED = "deleted", "削除済み"

    menu_set = models.ForeignKey(
        MenuSet, on_delete=models.SET_NULL, null=True, related_name="published_menus"
    )
    revision = models.ForeignKey(
        "wagtailcore.Revision", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    tab = models.PositiveSmallIntegerField("タブ")
    rich_menu_id = models.CharField("LINE のリッチメニュー ID", max_length=100, unique=True)
    alias_id = models.CharField("エイリアス", max_length=32)
    state = models.CharField("状態", max_length=10, choices=State.choices, default=State.CREATED)
    image_uploaded = models.BooleanField("画像を送信済み", default=False)
    batch_request_id = models.CharField("利用者の付け替えの依頼 ID", max_length=100, blank=True)
    created_at = models.DateTimeField("作成日時", auto_now_add=True)
    updated_at = models.DateTimeField("更新日時", auto_now=True)

    class Meta:
        verbose_name = "公開したリッチメニュー"
        verbose_name_plural = "公開したリッチメニュー"
        ordering = ["-created_at", "tab"]
        constraints = [
            models.UniqueConstraint(
                fields=["revision", "tab"],
                condition=models.Q(state__in=["created", "live"]),
                name="richmenus_one_menu_per_revision_tab",
            )
        ]

    def __str__(self) -> str:
        return f"{self.alias_id}（{self.get_state_display()}）"


class EmergencySwitch(models.Model):
    """One 災害モード: the emergency set shown to every friend, from the switch to the revert.

    ``copies`` maps each menu friends could be on when it started (the live tabs of every other
    set) to a copy of the emergency menu made for it, so one batch moves the friends of each menu
    to its own copy and the revert moves exactly those friends back: per-user links survive.
    """

    class State(models.TextChoices):
        REQUESTED = "requested", "承認待ち"
        SCHEDULED = "scheduled", "予約済み"
        SWITCHING = "switching", "切替中"
        ON = "on", "災害モード中"
        REVERTING = "reverting", "解除中"
        OFF = "off", "解除済み"
        CANCELLED = "cancelled", "予約取消"
        FAILED = "failed", "失敗"

    ACTIVE = (State.SWITCHING, State.ON, State.REVERTING)

    menu_set = models.ForeignKey(
        MenuSet,
        verbose_name="災害時のメニューセット",
        on_delete=models.PROTECT,
        related_name="+",
        limit_choices_to={"purpose": MenuSet.Purpose.EMERGENCY},
    )
    rehearsal = models.BooleanField("訓練（テスターだけ）", default=False)
    pause_deliveries = models.BooleanField("防災以外の予約配信を止める", default=True)
    alert = models.TextField("友だち全員に送るお知らせ", blank=True)
    state = models.CharField("状態", max_length=10, choices=State.choices, default=State.SWITCHING)
    started_at = models.DateTimeField("切替日時", auto_now_add=True)
    starts_at = models.DateTimeField("開始日時（予約）", null=True, blank=True)
    ends_at = models.DateTimeField("終了日時（予約）", null=True, blank=True)
    started_by = models.CharField("切り替えた職員", max_length=150, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_by = models.CharField("承認した職員", max_length=150, blank=True)
    ended_at = models.DateTimeField("解除日時", null=True, blank=True)
    ended_by = models.CharField("解除した職員", max_length=150, blank=True)
    previous_default = models.CharField("元の既定のメニュー", max_length=100, blank=True)
    copies = models.JSONField("切替えたメニュー", default=list, blank=True)  # [{"from": id, "to": id}]
    testers = models.JSONField("訓練の前のテスターのメニュー", default=dict, blank=True)  # user -> menu
    batch_request_id = models.CharField("LINE の一括処理 ID", max_length=100, blank=True)
    progress = models.CharField("進み具合", max_length=200, blank=True)
    error = models.TextField("エラー", blank=True)

    class Meta:
        verbose_name = "災害モード"
        verbose_name_plural = "災害モード"
        ordering = ["-started_at"]
        permissions = [("switch_emergency", "災害モードの切替と解除")]
        constraints = [
            models.UniqueConstraint(
                fields=["rehearsal"],
                condition=models.Q(state__in=["switching", "on", "reverting"]),
                name="richmenus_one_active_emergency",
            )
        ]

    def __str__(self) -> str:
        kind = "災害モード訓練" if self.rehearsal else "災害モード"
        return f"{kind}（{self.get_state_display()}）"

    @property
    def is_active(self) -> bool:
        return self.state in self.ACTIVE


@register_setting(icon="warning")
class EmergencySettings(BaseGenericSetting):
    """Whether switching 災害モード needs a second person."""

    second_person = models.BooleanField(
        "災害モードへの切替に、もう一人の承認を必要にする",
        default=False,
        help_text=(
            "チェックすると、切り替えを押した職員とは別の、切替の権限を持つ職員が「承認して切り替える」を"
            "押したときに切り替わります。訓練と解除には承認はいりません。"
        ),
    )

    class Meta:
        verbose_name = "災害モードの設定"


class SegmentMenuLink(models.Model):
    """A friend of a set's 配信グループ whom we linked to the set (so a daily pass can link those
    who joined the group since, and unlink those who left it)."""

    menu_set = models.ForeignKey(MenuSet, on_delete=models.CASCADE, related_name="segment_links")
    follower = models.ForeignKey("line_channel.Follower", on_delete=models.CASCADE, related_name="+")
    linked_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "配信グループのメニュー表示"
        verbose_name_plural = "配信グループのメニュー表示"
        constraints = [
            models.UniqueConstraint(fields=["menu_set", "follower"], name="richmenus_one_link_per_friend")
        ]

    def __str__(self) -> str:
        return f"{self.menu_set_id}: {self.follower_id}"
