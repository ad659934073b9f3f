"""What Kairan keeps of its LINE channel: settings, webhook events, followers, the outbox.

Personal data (what residents write, their display names and pictures) and
secrets (channel secret, access token) are encrypted at rest
(``kairan.core.crypto``). LINE user ids stay in the clear: they are
pseudonymous ids the API needs, and they are looked up.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from wagtail.contrib.settings.models import BaseGenericSetting, register_setting

from kairan.core.crypto import EncryptedJSONField, EncryptedTextField, line_user_hash
from line_channel.panels_settings import SETTINGS_EDIT_HANDLER


@register_setting(icon="link", name="line-channel")
class LineChannelSettings(BaseGenericSetting):
    """LINE連携設定: the Messaging API channel and its LINE Login channel (for LIFF)."""

    channel_id = models.CharField(_("チャネルID"), max_length=20, blank=True)
    channel_secret = EncryptedTextField(_("チャネルシークレット"), blank=True)
    access_token = EncryptedTextField(
        _("チャネルアクセストークン（長期）"),
        blank=True,
        help_text=_("LINE Developers コンソールで発行した長期のトークン。"),
    )
    login_channel_id = models.CharField(
        _("LINEログインのチャネルID"),
        max_length=20,
        blank=True,
        help_text=_(
            "LIFF アプリが属する LINE ログインチャネル（同じプロバイダー）の ID。"
            "ID トークンの検証に使います。"
        ),
    )
    liff_id = models.CharField(
        _("LIFF ID"),
        max_length=40,
        blank=True,
        help_text=_("マイページやフォームを LINE の中で開く LIFF アプリの ID（例: 1657000000-AbCdEfGh）。"),
    )
    # Filled by the connection test (bot info).
    bot_user_id = models.CharField(_("ボットのユーザーID"), max_length=40, blank=True)
    basic_id = models.CharField(_("ベーシックID"), max_length=40, blank=True)
    bot_display_name = models.CharField(_("アカウント名"), max_length=100, blank=True)
    checked_at = models.DateTimeField(_("接続確認日時"), null=True, blank=True)

    # The edit screen (panels, secrets never shown back, the test buttons): line_channel.panels_settings.
    edit_handler = SETTINGS_EDIT_HANDLER

    class Meta:
        verbose_name = _("LINE連携設定")

    def is_configured(self) -> bool:
        return bool(self.channel_id and self.channel_secret and self.access_token)


class WebhookEvent(models.Model):
    """One event LINE posted to the webhook, stored once by its ``webhookEventId``."""

    class State(models.TextChoices):
        PENDING = "pending", _("未処理")
        DONE = "done", _("処理済み")
        IGNORED = "ignored", _("対象外")
        FAILED = "failed", _("失敗")

    event_id = models.CharField(_("イベントID"), max_length=64, unique=True)
    event_type = models.CharField(_("種類"), max_length=40, db_index=True)
    source_user_id = models.CharField(_("ユーザーID"), max_length=64, blank=True, db_index=True)
    payload = EncryptedJSONField(_("内容"))
    occurred_at = models.DateTimeField(_("発生日時"))
    received_at = models.DateTimeField(_("受信日時"), default=timezone.now)
    redelivered = models.BooleanField(_("再送"), default=False)
    duplicates = models.PositiveIntegerField(_("重複受信"), default=0)
    state = models.CharField(_("状態"), max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(_("処理回数"), default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(_("処理日時"), null=True, blank=True)
    error = models.TextField(_("エラー"), blank=True)

    class Meta:
        verbose_name = _("Webhook イベント")
        verbose_name_plural = _("Webhook イベント")
        indexes = [models.Index(fields=["state", "id"], name="line_event_pending")]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"


class Follower(models.Model):
    """A LINE user who added the account as a friend (now or before)."""

    class Status(models.TextChoices):
        FOLLOWING = "following", _("友だち")
        BLOCKED = "blocked", _("ブロック中")

    line_user_id = models.CharField(_("LINE ユーザーID"), max_length=64, unique=True)
    # The keyed hash other rows of the same resident are found by (受信設定, agreements, forms).
    line_user_hash = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    display_name = EncryptedTextField(_("表示名"), blank=True)
    picture_url = EncryptedTextField(_("プロフィール画像"), blank=True)
    language = models.CharField(_("言語"), max_length=16, blank=True)
    status = models.CharField(_("状態"), max_length=10, choices=Status.choices, db_index=True)
    first_followed_at = models.DateTimeField(_("最初の友だち追加"))
    followed_at = models.DateTimeField(_("友だち追加"))
    unfollowed_at = models.DateTimeField(_("ブロック"), null=True, blank=True)
    profile_fetched_at = models.DateTimeField(_("プロフィール取得"), null=True, blank=True)

    class Meta:
        verbose_name = _("友だち")
        verbose_name_plural = _("友だち")
        ordering = ["-followed_at"]

    def __str__(self) -> str:
        return self.display_name or self.line_user_id

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self.line_user_hash:
            self.line_user_hash = line_user_hash(self.line_user_id)
            if kwargs.get("update_fields") is not None:
                kwargs["update_fields"] = {*kwargs["update_fields"], "line_user_hash"}
        super().save(*args, **kwargs)


class FollowChange(models.Model):
    """Each follow, re-follow (unblock) and unfollow (block), for the daily friend-count series."""

    class Kind(models.TextChoices):
        FOLLOW = "follow", _("友だち追加")
        UNBLOCK = "unblock", _("ブロック解除")
        UNFOLLOW = "unfollow", _("ブロック・削除")

    follower = models.ForeignKey(Follower, on_delete=models.CASCADE, related_name="changes")
    kind = models.CharField(_("種類"), max_length=10, choices=Kind.choices)
    at = models.DateTimeField(_("日時"), db_index=True)
    event_id = models.CharField(max_length=64, unique=True)  # the webhook event it came from

    class Meta:
        verbose_name = _("友だちの増減")
        verbose_name_plural = _("友だちの増減")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.at:%Y-%m-%d %H:%M}"


class OutboxItem(models.Model):
    """One request to LINE that sends messages: the single way the product sends anything.

    Created with its retry key; claimed by one worker at a time (``line_channel.outbox``); a
    worker that died leaves the item to be reclaimed and re-sent with the same key, so LINE
    delivers it at most once.
    """

    class Kind(models.TextChoices):
        REPLY = "reply", _("応答")
        PUSH = "push", _("プッシュ")
        MULTICAST = "multicast", _("マルチキャスト")
        BROADCAST = "broadcast", _("一斉配信")

    class State(models.TextChoices):
        QUEUED = "queued", _("送信待ち")
        SENDING = "sending", _("送信中")
        SENT = "sent", _("送信済み")
        FAILED = "failed", _("失敗")

    kind = models.CharField(_("種類"), max_length=10, choices=Kind.choices)
    purpose = models.CharField(_("用途"), max_length=100, blank=True, db_index=True)
    recipients = models.JSONField(_("宛先"), default=list, blank=True)  # LINE user ids, <= 500
    messages = EncryptedJSONField(_("メッセージ"))
    reply_token = models.CharField(max_length=100, blank=True)
    notification_disabled = models.BooleanField(_("通知なし"), default=False)
    aggregation_unit = models.CharField(max_length=30, blank=True)
    retry_key = models.UUIDField(_("リトライキー"), default=uuid.uuid4, unique=True, editable=False)
    state = models.CharField(_("状態"), max_length=10, choices=State.choices, default=State.QUEUED)
    attempts = models.PositiveSmallIntegerField(_("試行回数"), default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claim_token = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField(_("作成日時"), default=timezone.now)
    sent_at = models.DateTimeField(_("送信日時"), null=True, blank=True)
    line_request_id = models.CharField(_("LINE リクエストID"), max_length=64, blank=True)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(_("エラー"), blank=True)

    class Meta:
        verbose_name = _("送信キュー")
        verbose_name_plural = _("送信キュー")
        indexes = [models.Index(fields=["state", "next_attempt_at", "id"], name="line_outbox_due")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.get_state_display()})"


class RateSlot(models.Model):
    """When the next request to one LINE endpoint may start (short limits, shared by all processes)."""

    endpoint = models.CharField(max_length=40, unique=True)
    next_at = models.FloatField(default=0.0)  # seconds since the epoch

    def __str__(self) -> str:
        return f"{self.endpoint} @ {self.next_at:.3f}"


class RateWindow(models.Model):
    """Requests made to one LINE endpoint in one time window, shared by every worker process."""

    endpoint = models.CharField(max_length=40)
    window = models.BigIntegerField()  # window start, in whole seconds (or window lengths) since the epoch
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["endpoint", "window"], name="line_rate_window_unique")]

    def __str__(self) -> str:
        return f"{self.endpoint}@{self.window}: {self.count}"
