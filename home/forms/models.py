"""The base form page, its encrypted submissions and the per-page field history.

``BaseFormPage`` is what 受信設定, 通報, アンケート and 予約 pages derive from:
fields come from the ``form_fields`` stream (see ``blocks``), answers are stored
encrypted by stable key with choice codes, and ``FormFieldHistory`` remembers
every field a published form ever had, so answers to a removed field stay
readable and exportable.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from django.db import models, transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from wagtail.contrib.forms.models import AbstractForm, AbstractFormSubmission
from wagtail.fields import RichTextField, StreamField
from wagtail.signals import page_published

from home.forms.blocks import FieldSpec, FormFieldsBlock, field_specs
from home.forms.builder import KairanForm, KairanFormBuilder
from kairan.core.crypto import EncryptedJSONField, EncryptedTextField, encrypt_bytes, line_user_hash

__all__ = ["line_user_hash"]  # re-exported: forms and residents find residents by it

if TYPE_CHECKING:
    from home.forms.answers import Column

logger = logging.getLogger(__name__)

PHOTO_DIR = "forms"


def private_storage() -> FileSystemStorage:
    """Files residents send (photos): outside MEDIA_ROOT, never served by a public URL."""
    return FileSystemStorage(location=settings.VAR_DIR / "private", base_url=None)


def photo_context(name: str) -> bytes:
    """Associated data binding an encrypted photo to its own file name."""
    return f"home.forms.photo:{name}".encode()


class FormPageSubmission(AbstractFormSubmission):
    """One resident's answers; everything personal is encrypted at rest."""

    form_data = EncryptedJSONField(default=dict)
    line_user_id = EncryptedTextField("LINE ユーザーID", blank=True, default="")
    line_user_hash = models.CharField(max_length=64, blank=True, default="", db_index=True, editable=False)

    # Set by a view that shows many submissions of one form, so get_data() does not read them per row.
    answer_columns: Sequence[Column] | None = None

    class Meta:
        verbose_name = "フォームの回答"
        verbose_name_plural = "フォームの回答"

    def __str__(self) -> str:
        return f"フォームの回答 #{self.pk}"

    @property
    def answers(self) -> dict[str, Any]:
        """The decrypted answers by key (``form_data`` is a TextField to the type checker)."""
        data: Any = self.form_data
        return data if isinstance(data, dict) else {}

    def get_data(self) -> dict[str, Any]:
        """Answers as staff read them (labels, not codes), by key, for Wagtail's listing."""
        from home.forms.answers import columns_for_page, display_value

        columns = columns_for_page(self.page) if self.answer_columns is None else self.answer_columns
        data: dict[str, Any] = {column.key: display_value(column, self) for column in columns}
        data["submit_time"] = self.submit_time
        return data


class FormFieldHistory(models.Model):
    """Every field a page's published form has had: its label at last publish, and whether it is gone."""

    page = models.ForeignKey("wagtailcore.Page", on_delete=models.CASCADE, related_name="form_field_history")
    key = models.CharField(max_length=32)
    label = models.CharField(max_length=255)
    field_type = models.CharField(max_length=32)
    position = models.PositiveIntegerField(default=0)
    staff_only = models.BooleanField(default=False)
    retired = models.BooleanField(default=False)
    choices = models.JSONField(default=dict, blank=True)  # code -> label, including removed choices
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "フォーム項目の履歴"
        verbose_name_plural = "フォーム項目の履歴"
        constraints = [models.UniqueConstraint(fields=["page", "key"], name="unique_form_field_history_key")]
        ordering = ["retired", "position", "pk"]

    def __str__(self) -> str:
        return self.label


def sync_field_history(*, page: BaseFormPage) -> None:
    """Record the fields of the form just published; fields no longer in it are marked retired."""
    specs = [spec for spec in page.field_specs() if spec.is_answer]
    existing = {entry.key: entry for entry in FormFieldHistory.objects.filter(page_id=page.pk)}
    with transaction.atomic():
        for position, spec in enumerate(specs):
            entry = existing.pop(spec.clean_name, None) or FormFieldHistory(
                page_id=page.pk, key=spec.clean_name
            )
            entry.label = spec.label
            entry.field_type = spec.field_type
            entry.position = position
            entry.staff_only = spec.staff_only
            entry.retired = False
            entry.choices = {**(entry.choices or {}), **dict(spec.choices)}
            entry.save()
        for entry in existing.values():
            if not entry.retired:
                entry.retired = True
                entry.save(update_fields=["retired", "updated_at"])


@receiver(page_published)
def _page_published(sender: Any, instance: Any, **kwargs: Any) -> None:
    if isinstance(instance, BaseFormPage):
        sync_field_history(page=instance)


@receiver(post_delete, sender=FormPageSubmission)
def _delete_photos(sender: Any, instance: FormPageSubmission, **kwargs: Any) -> None:
    """A deleted submission (or page) takes its private photo files with it."""
    names = [
        str(item.get("file", ""))
        for value in instance.answers.values()
        if isinstance(value, list)
        for item in value
        if isinstance(item, dict) and item.get("file")
    ]
    if names:
        storage = private_storage()

        def delete_files() -> None:
            for name in names:
                storage.delete(name)

        transaction.on_commit(delete_files)


def _json_safe(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral_value() else str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


class BaseFormPage(AbstractForm):
    """A page with a form built from ``form_fields``; the base of every Kairan form feature."""

    intro = RichTextField("フォームの前の説明", blank=True)
    form_fields = StreamField(FormFieldsBlock(), verbose_name="フォームの項目", blank=True)
    submit_label = models.CharField("送信ボタンの文字", max_length=50, default="送信する")
    thank_you_text = RichTextField(
        "送信後のメッセージ",
        blank=True,
        help_text="送信した人に表示します。空なら「送信しました。」と表示します。",
    )
    requires_line_identity = models.BooleanField(
        "LINE の本人確認をする",
        default=False,
        help_text=(
            "LINE から開いた人だけが送れるフォームにします"
            "（LINE が本人を確かめ、回答をその人に結び付けます）。"
            "受信設定・通報など、誰の回答かが必要なときに使います。"
        ),
    )
    line_message = models.TextField(
        "送信後に LINE で送るメッセージ",
        blank=True,
        max_length=1000,
        help_text="LINE から開いた人に、送信後に LINE でこの文を送ります。空なら送りません。",
    )

    form_builder = KairanFormBuilder

    class Meta:
        abstract = True

    # --- Fields ---------------------------------------------------------------------------

    def field_specs(self) -> list[FieldSpec]:
        """Every item of the form in order, display-only items included."""
        return field_specs(self.form_fields)

    def get_form_fields(self) -> list[FieldSpec]:
        """Answer fields (staff-only ones too), as Wagtail's form machinery expects."""
        return [spec for spec in self.field_specs() if spec.is_answer]

    def get_data_fields(self) -> list[tuple[str, str]]:
        """Submission date, then every field ever published (retired ones marked 削除済み)."""
        from home.forms.answers import columns_for_page

        return [("submit_time", "送信日時")] + [(c.key, c.heading) for c in columns_for_page(self)]

    def get_form_class(self) -> type[KairanForm]:
        specs = self.field_specs()
        resident = [spec for spec in specs if spec.is_answer and not spec.staff_only]
        return KairanFormBuilder(resident, all_specs=specs).get_form_class()

    # --- Submissions ----------------------------------------------------------------------

    def get_submission_class(self) -> type[FormPageSubmission]:
        return FormPageSubmission

    def get_submissions_list_view_class(self) -> Any:
        from home.forms.views import FormSubmissionsListView

        return FormSubmissionsListView

    def get_line_user_id(self, request: HttpRequest) -> str | None:
        """The resident LINE vouched for on this browser (LIFF identity), never a posted id."""
        from line_channel.liff import current_line_user

        return current_line_user(request)

    def stored_answers(self, form: KairanForm) -> dict[str, Any]:
        """The cleaned data as stored: JSON values by key, choice codes, photos saved privately."""
        specs = {spec.clean_name: spec for spec in self.get_form_fields()}
        stored: dict[str, Any] = {}
        for key, value in form.cleaned_data.items():
            spec = specs.get(key)
            if spec is None or value in (None, "", [], {}):
                continue
            stored[key] = self.save_photos(value) if spec.field_type == "photo" else _json_safe(value)
        return stored

    def save_photos(self, uploads: list[Any]) -> list[dict[str, Any]]:
        storage = private_storage()
        saved = []
        for upload in uploads:
            content_type, extension = upload.kairan_image_type
            data = upload.read()
            name = f"{PHOTO_DIR}/{self.pk}/{uuid.uuid4().hex}.{extension}.enc"
            name = storage.save(name, ContentFile(encrypt_bytes(data, context=photo_context(name))))
            saved.append({"file": name, "name": upload.name, "type": content_type, "size": len(data)})
        return saved

    def save_submission(self, *, form: KairanForm, line_user_id: str | None = None) -> FormPageSubmission:
        """Store one submission (the named write used by ``serve`` and by other features)."""
        return FormPageSubmission.objects.create(
            page=self,
            form_data=self.stored_answers(form),
            line_user_id=line_user_id or "",
            line_user_hash=line_user_hash(line_user_id) if line_user_id else "",
        )

    def process_form_submission(self, form: KairanForm) -> FormPageSubmission:
        return self.save_submission(form=form)

    def notify_by_line(self, *, line_user_id: str | None) -> None:
        """Queue the page's 「送信後に LINE で送るメッセージ」 to the resident, if both are known."""
        if not line_user_id or not self.line_message.strip():
            return
        from line_channel.outbox import enqueue_push

        enqueue_push(
            to=line_user_id,
            messages=[{"type": "text", "text": self.line_message.strip()}],
            purpose=f"form:{self.pk}",
        )

    def serve(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        from line_channel.liff import identifying_page, liff_headers

        if self.requires_line_identity and not getattr(request, "is_preview", False):
            if self.get_line_user_id(request) is None:
                return identifying_page(request)  # its script has LINE vouch, then loads this page again
            return liff_headers(self._serve_form(request, *args, **kwargs))
        return self._serve_form(request, *args, **kwargs)

    def _serve_form(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method == "POST":
            form = self.get_form(request.POST, request.FILES, page=self, user=request.user)
            if form.is_valid():
                line_user_id = self.get_line_user_id(request)
                with transaction.atomic():
                    submission = self.save_submission(form=form, line_user_id=line_user_id)
                    self.notify_by_line(line_user_id=line_user_id)
                return self.render_landing_page(request, submission, *args, **kwargs)
        else:
            form = self.get_form(page=self, user=request.user)
        context = self.get_context(request)
        context["form"] = form
        return TemplateResponse(request, self.get_template(request), context)


def submissions_for_line_user(line_user_id: str) -> models.QuerySet[FormPageSubmission]:
    """A resident's submissions across every form, found by the keyed hash of their LINE user id."""
    return FormPageSubmission.objects.filter(line_user_hash=line_user_hash(line_user_id))
