from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel
from wagtail.fields import RichTextField
from wagtail.models import Page


class HomePage(Page):
    """The site root: the city's Kairan portal that LIFF pages and links start from."""

    lead = models.CharField(_("リード文"), max_length=255, blank=True)
    body = RichTextField(_("本文"), blank=True)

    content_panels = [*Page.content_panels, FieldPanel("lead"), FieldPanel("body")]

    max_count = 1
    parent_page_types = ["wagtailcore.Page"]

    class Meta:
        verbose_name = _("トップページ")
        verbose_name_plural = _("トップページ")


class StandardPage(Page):
    """A plain content page (お知らせ, 案内, a department's section)."""

    lead = models.CharField(_("リード文"), max_length=255, blank=True)
    body = RichTextField(_("本文"), blank=True)

    content_panels = [*Page.content_panels, FieldPanel("lead"), FieldPanel("body")]

    class Meta:
        verbose_name = _("標準ページ")
        verbose_name_plural = _("標準ページ")
