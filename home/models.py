from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel, MultiFieldPanel
from wagtail.contrib.forms.panels import FormSubmissionsPanel
from wagtail.fields import RichTextField
from wagtail.models import Page
from wagtail.search import index

from home.forms.models import BaseFormPage


class HomePage(Page):
    """The site root: the city's Kairan portal that LIFF pages and links start from."""

    lead = models.CharField(_("リード文"), max_length=255, blank=True)
    body = RichTextField(_("本文"), blank=True)

    content_panels = [*Page.content_panels, FieldPanel("lead"), FieldPanel("body")]
    search_fields = [*Page.search_fields, index.SearchField("lead"), index.SearchField("body")]

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
    search_fields = [*Page.search_fields, index.SearchField("lead"), index.SearchField("body")]

    class Meta:
        verbose_name = _("標準ページ")
        verbose_name_plural = _("標準ページ")


class FormPage(BaseFormPage):
    """A general-purpose form (申込み, アンケート, 問い合わせ) built in the editor from field blocks."""

    template = "home/forms/form_page.html"
    landing_page_template = "home/forms/form_page_landing.html"

    content_panels = [
        *Page.content_panels,
        FormSubmissionsPanel(),
        FieldPanel("intro"),
        FieldPanel("form_fields"),
        FieldPanel("submit_label"),
        MultiFieldPanel(
            [FieldPanel("thank_you_text"), FieldPanel("line_message")],
            heading=_("送信後"),
        ),
        FieldPanel("requires_line_identity"),
    ]

    parent_page_types = ["home.HomePage", "home.StandardPage"]
    subpage_types: list[str] = []

    class Meta:
        verbose_name = _("フォーム")
        verbose_name_plural = _("フォーム")
