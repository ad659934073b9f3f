"""The operation log (操作ログ, spec §7(4)) and the access log of staff requests.

Operation-log entries form a hash chain: each entry's ``hash`` covers its own
content and the previous entry's hash, so altering, inserting or deleting a row
breaks the chain at that point (see ``kairan.oplog.chain``). Appends are
serialised by locking the single ``OperationLogChain`` row, which also keeps the
anchor left by retention purges.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

GENESIS_HASH = "0" * 64


class Category(models.TextChoices):
    AUTH = "auth", _("ログイン・ログアウト")
    MFA = "mfa", _("二要素認証")
    WRITE = "write", _("書き込み")
    EXPORT = "export", _("エクスポート")
    PERSONAL = "personal", _("個人情報の閲覧")
    SETTINGS = "settings", _("設定変更")
    SYSTEM = "system", _("システム")


class OperationLogEntry(models.Model):
    sequence = models.PositiveBigIntegerField(_("通し番号"), unique=True)
    timestamp = models.DateTimeField(_("日時"), db_index=True)
    category = models.CharField(_("種別"), max_length=20, choices=Category.choices, db_index=True)
    action = models.CharField(_("操作"), max_length=100, db_index=True)
    # The actor is kept as a number and a name, not a foreign key: deleting a
    # staff account must not rewrite (and so break) their past entries.
    actor_id = models.BigIntegerField(_("職員ID"), null=True, blank=True, db_index=True)
    username = models.CharField(_("職員"), max_length=150, blank=True, db_index=True)
    ip_address = models.CharField(_("IPアドレス"), max_length=45, blank=True)
    object_type = models.CharField(_("対象の種類"), max_length=100, blank=True)
    object_id = models.CharField(_("対象ID"), max_length=255, blank=True)
    object_label = models.CharField(_("対象"), max_length=255, blank=True)
    path = models.CharField(_("画面"), max_length=500, blank=True)
    data = models.JSONField(_("詳細"), default=dict, blank=True)
    prev_hash = models.CharField(_("直前のハッシュ"), max_length=64)
    hash = models.CharField(_("ハッシュ"), max_length=64, unique=True)

    class Meta:
        verbose_name = _("操作ログ")
        verbose_name_plural = _("操作ログ")
        ordering = ["-sequence"]
        indexes = [models.Index(fields=["-timestamp"], name="oplog_entry_recent")]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.action} {self.username}"


class OperationLogChain(models.Model):
    """The single row (pk=1) holding the chain's head and its purge anchor."""

    last_sequence = models.PositiveBigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default=GENESIS_HASH)
    # Entries up to and including anchor_sequence were purged by retention;
    # the first kept entry must link to anchor_hash.
    anchor_sequence = models.PositiveBigIntegerField(default=0)
    anchor_hash = models.CharField(max_length=64, default=GENESIS_HASH)
    # Result of the latest scheduled verification, shown on the report screen.
    verified_at = models.DateTimeField(null=True, blank=True)
    verified_ok = models.BooleanField(null=True)
    verified_message = models.TextField(blank=True)

    class Meta:
        verbose_name = _("操作ログのチェーン")
        verbose_name_plural = _("操作ログのチェーン")

    def __str__(self) -> str:
        return f"chain head #{self.last_sequence}"


class AccessLogEntry(models.Model):
    timestamp = models.DateTimeField(_("日時"), db_index=True)
    actor_id = models.BigIntegerField(_("職員ID"), null=True, blank=True, db_index=True)
    username = models.CharField(_("職員"), max_length=150, blank=True, db_index=True)
    ip_address = models.CharField(_("IPアドレス"), max_length=45, blank=True)
    method = models.CharField(_("メソッド"), max_length=10)
    path = models.CharField(_("パス"), max_length=500)
    status = models.PositiveSmallIntegerField(_("ステータス"))
    duration_ms = models.PositiveIntegerField(_("処理時間（ミリ秒）"))

    class Meta:
        verbose_name = _("アクセスログ")
        verbose_name_plural = _("アクセスログ")
        ordering = ["-timestamp", "-pk"]

    def __str__(self) -> str:
        return f"{self.timestamp:%Y-%m-%d %H:%M:%S} {self.method} {self.path} {self.status}"
