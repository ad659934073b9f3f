from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Heartbeat(models.Model):
    """Last sign of life of a background process (e.g. each Django-Q cluster)."""

    name = models.CharField(_("名前"), max_length=100, unique=True)
    beat_at = models.DateTimeField(_("最終確認"))

    class Meta:
        verbose_name = _("稼働確認")
        verbose_name_plural = _("稼働確認")

    def __str__(self) -> str:
        return f"{self.name} @ {self.beat_at:%Y-%m-%d %H:%M:%S}"
