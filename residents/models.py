"""The 受信設定 form page and what it stores: one row of current answers per resident.

A 受信設定 answer is not a submission that piles up: sending the form again
replaces the resident's answers (``services.save_attributes``). What changed,
when and by whom is kept in ``AttributeChange``; ``AttributeToken`` is a blind
index of the selected choices and the birth year, so segments can be queried
without decrypting anyone's answers (see ``attributes``).
"""

from __future__ import annotations

from typing import Any, NoReturn

from django.core.exceptions import ImproperlyConfigured
from django.db import models, transaction
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel, MultiFieldPanel
from wagtail.models import Page

from home.forms.builder import KairanForm
from home.forms.models import BaseFormPage
from kairan.core.crypto import EncryptedJSONField, EncryptedTextField


class AttributeFormPage(BaseFormPage):
    """The site's 受信設定 form: what each resident wants to receive, tied to their LINE identity."""

    template = "home/forms/form_page.html"
    landing_page_template = "home/forms/form_page_landing.html"

    # No FormSubmissionsPanel: answers are not FormPageSubmissions (see ``_serve_form``), and the
    # LINE identity is always required, so its checkbox is not shown either.
    content_panels = [
        *Page.content_panels,
        FieldPanel("intro"),
        FieldPanel("form_fields"),
        FieldPanel("submit_label"),
        MultiFieldPanel(
            [FieldPanel("thank_you_text"), FieldPanel("line_message")],
            heading=_("送信後"),
        ),
    ]

    max_count = 1
    parent_page_types = ["home.HomePage"]
    subpage_types: list[str] = []

    class Meta:
        verbose_name = _("受信設定フォーム")
        verbose_name_plural = _("受信設定フォーム")

    def clean(self) -> None:
        self.requires_line_identity = True
        super().clean()

    def save(self, *args: Any, **kwargs: Any) -> Any:
        # Answers without a resident would be nobody's settings: the identity is never optional.
        self.requires_line_identity = True
        return super().save(*args, **kwargs)

    def save_submission(self, *, form: KairanForm, line_user_id: str | None = None) -> NoReturn:
        raise ImproperlyConfigured("受信設定の回答は residents.services.save_attributes で保存します。")

    def resident_keys(self) -> set[str]:
        """Keys of the fields the resident's own form shows (staff-only fields excluded)."""
        return {spec.clean_name for spec in self.get_form_fields() if not spec.staff_only}

    def _serve_form(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        """The form, pre-filled with the resident's current answers; sending it replaces them.

        Only ``serve`` calls this, after LINE has vouched for the resident (or in a staff preview).
        """
        from residents.services import current_answers, save_attributes

        line_user_id = self.get_line_user_id(request)
        current = current_answers(line_user_id) if line_user_id else {}
        if request.method == "POST":
            form = self.get_form(request.POST, request.FILES, page=self, user=request.user)
            if form.is_valid() and line_user_id:
                shown = self.resident_keys()
                # Staff-only answers and answers to removed fields are not on the resident's form:
                # they are kept as they are; the fields the form shows are replaced (or cleared).
                answers = {k: v for k, v in current.items() if k not in shown} | self.stored_answers(form)
                with transaction.atomic():
                    save_attributes(page=self, line_user_id=line_user_id, answers=answers, actor="resident")
                    self.notify_by_line(line_user_id=line_user_id)
                return self.render_landing_page(request, None, *args, **kwargs)
        else:
            form = self.get_form(page=self, user=request.user, initial=current)
        context = self.get_context(request)
        context["form"] = form
        return TemplateResponse(request, self.get_template(request), context)


class ResidentAttributes(models.Model):
    """One resident's current 受信設定 answers (by stable field key, choice codes), encrypted."""

    line_user_hash = models.CharField(max_length=64, unique=True, editable=False)
    line_user_id = EncryptedTextField("LINE ユーザーID")
    answers = EncryptedJSONField("回答", default=dict)
    created_at = models.DateTimeField("登録日時", auto_now_add=True)
    updated_at = models.DateTimeField("更新日時", auto_now=True)

    class Meta:
        verbose_name = "受信設定"
        verbose_name_plural = "受信設定"

    def __str__(self) -> str:
        return f"受信設定 #{self.pk}"

    @property
    def current(self) -> dict[str, Any]:
        """The decrypted answers (``answers`` is a TextField to the type checker)."""
        data: Any = self.answers
        return dict(data) if isinstance(data, dict) else {}


class AttributeChange(models.Model):
    """One change of a resident's answers: who made it and each changed key's before/after value.

    Deleting the answers erases the values of every entry (the entries stay, with the keys that
    changed) and adds a 「削除」 entry; ``resident`` is null once the resident has withdrawn.
    """

    class Kind(models.TextChoices):
        CREATED = "created", "登録"
        CHANGED = "changed", "変更"
        DELETED = "deleted", "削除"

    resident = models.ForeignKey(
        ResidentAttributes, null=True, blank=True, on_delete=models.SET_NULL, related_name="changes"
    )
    at = models.DateTimeField("日時", auto_now_add=True, db_index=True)
    actor = models.CharField("変更した人", max_length=64)  # "resident" or "staff:<user id>"
    kind = models.CharField("種類", max_length=16, choices=Kind.choices)
    changes = EncryptedJSONField("変更内容", default=dict)  # key -> {"before": ..., "after": ...}

    class Meta:
        verbose_name = "受信設定の変更履歴"
        verbose_name_plural = "受信設定の変更履歴"
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.actor})"

    @property
    def changed(self) -> dict[str, dict[str, Any]]:
        data: Any = self.changes
        return dict(data) if isinstance(data, dict) else {}


class AttributeToken(models.Model):
    """A blind-index entry: an HMAC of ``<field key>=<choice code>`` (or ``=year:<year>``)."""

    resident = models.ForeignKey(ResidentAttributes, on_delete=models.CASCADE, related_name="tokens")
    token = models.CharField(max_length=64, db_index=True)

    class Meta:
        verbose_name = "受信設定の検索用トークン"
        verbose_name_plural = "受信設定の検索用トークン"
        constraints = [
            models.UniqueConstraint(fields=["resident", "token"], name="unique_attribute_token"),
        ]

    def __str__(self) -> str:
        return self.token[:12]
