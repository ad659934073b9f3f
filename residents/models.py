"""The 受信設定 form page and what it stores: one row of current answers per resident.

A 受信設定 answer is not a submission that piles up: sending the form again
replaces the resident's answers (``services.save_attributes``). What changed,
when and by whom is kept in ``AttributeChange``; ``AttributeToken`` is a blind
index of the selected choices and the birth year, so segments can be queried
without decrypting anyone's answers (see ``attributes``).
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import models, transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel, MultiFieldPanel
from wagtail.contrib.settings.models import BaseGenericSetting, register_setting
from wagtail.fields import RichTextField
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

    def answers_after(self, *, form: KairanForm, current: dict[str, Any], shown: set[str]) -> dict[str, Any]:
        """The answers once ``form`` is saved: the items it ``shown`` are replaced (or cleared), the
        others (staff-only items on the resident's form, items the form no longer has) kept."""
        return {k: v for k, v in current.items() if k not in shown} | self.stored_answers(form)

    def resident_keys(self) -> set[str]:
        """Keys of the fields the resident's own form shows (staff-only fields excluded)."""
        return {spec.clean_name for spec in self.get_form_fields() if not spec.staff_only}

    def _serve_form(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        """The form, pre-filled with the resident's current answers; sending it replaces them.

        Only ``serve`` calls this, after LINE has vouched for the resident (or in a staff preview).
        A resident who has not agreed to the current terms is sent to My Page to agree first.
        """
        from residents.consent import needs_agreement
        from residents.services import current_answers, save_attributes

        line_user_id = self.get_line_user_id(request)
        if line_user_id and needs_agreement(line_user_id):
            return redirect(mypage_url(next_url=request.get_full_path()))
        current = current_answers(line_user_id) if line_user_id else {}
        if request.method == "POST":
            form = self.get_form(request.POST, request.FILES, page=self, user=request.user)
            if form.is_valid() and line_user_id:
                # Staff-only answers and answers to removed fields are not on the resident's form.
                answers = self.answers_after(form=form, current=current, shown=self.resident_keys())
                with transaction.atomic():
                    save_attributes(page=self, line_user_id=line_user_id, answers=answers, actor="resident")
                    self.notify_by_line(line_user_id=line_user_id)
                return self.render_landing_page(request, None, *args, **kwargs)
        else:
            form = self.get_form(page=self, user=request.user, initial=current)
        context = self.get_context(request)
        context["form"] = form
        return TemplateResponse(request, self.get_template(request), context)

    def get_context(self, request: HttpRequest, *args: Any, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context(request, *args, **kwargs)
        context["mypage_url"] = mypage_url()
        return context


def mypage_url(*, next_url: str = "") -> str:
    """My Page (``/liff/``), with ``?next=`` to come back to after agreeing to the terms."""
    from urllib.parse import urlencode

    from django.urls import reverse

    url = reverse("mypage")
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


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
        # Who may open a resident's page (受信設定, history, agreements, form answers) and export
        # it for a disclosure request. システム管理者 has it; other groups only when granted.
        permissions = [("view_personal_data", "市民の個人情報の閲覧")]

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


class TokenArrayField(models.Field):
    """A list of 64-bit token numbers: ``bigint[]`` on PostgreSQL (GIN-indexed), JSON text elsewhere."""

    description = "64-bit integers (an array on PostgreSQL)"

    def db_type(self, connection: Any) -> str:
        return "bigint[]" if connection.vendor == "postgresql" else "text"

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> list[int]:
        if value is None:
            return []
        return [int(v) for v in (value if isinstance(value, list) else json.loads(value))]

    def to_python(self, value: Any) -> list[int]:
        if isinstance(value, str):
            return [int(v) for v in json.loads(value)]
        return [int(v) for v in (value or [])]

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        numbers = [int(v) for v in (value or [])]
        return numbers if connection.vendor == "postgresql" else json.dumps(numbers)


class AudienceEntry(models.Model):
    """One row per resident with answers: their index entries as 64-bit numbers in one array.

    What PostgreSQL counts segments on: a GIN index (``WHERE reachable``) on ``tokens`` turns a
    segment into bitmap operations on posting lists (``&&`` any of, ``@>`` all of), so a count
    over a million friends reads a few megabytes of index instead of one index row per answer.
    SQLite counts on ``AttributeToken`` instead. Both are written together
    (``residents.services``).
    """

    resident = models.OneToOneField(
        ResidentAttributes, on_delete=models.CASCADE, primary_key=True, related_name="audience_entry"
    )
    reachable = models.BooleanField(default=False)
    tokens = TokenArrayField(default=list)
    # The friend with the resident's LINE user hash, when there is one: a fan-out reads the
    # audience's LINE user ids by this integer key, without a join on the hash per recipient.
    follower = models.ForeignKey(
        "line_channel.Follower", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = "配信対象の索引"
        verbose_name_plural = "配信対象の索引"

    def __str__(self) -> str:
        return f"配信対象の索引 #{self.pk}"


class AttributeToken(models.Model):
    """A blind-index entry: an HMAC of ``<field key>=<choice code>`` (or ``=year:<year>``), plus one
    ``REGISTERED`` entry per resident with answers.

    ``reachable`` says whether the resident is a friend now (following the account); it follows
    the friend's status (``residents.services.sync_reachability``). On SQLite segments are set
    operations on this table's reachable rows (``deliveries.audience``); on PostgreSQL they read
    ``AudienceEntry`` instead.
    """

    resident = models.ForeignKey(ResidentAttributes, on_delete=models.CASCADE, related_name="tokens")
    token = models.CharField(max_length=64, db_index=True)
    reachable = models.BooleanField(default=False)

    class Meta:
        verbose_name = "受信設定の検索用トークン"
        verbose_name_plural = "受信設定の検索用トークン"
        constraints = [
            models.UniqueConstraint(fields=["resident", "token"], name="unique_attribute_token"),
        ]
        # SQLite also has a partial index on (token, resident) WHERE reachable, made by migration
        # 0005 for SQLite only: PostgreSQL counts segments on AudienceEntry's GIN index instead.

    def __str__(self) -> str:
        return self.token[:12]


class TermsVersion(models.Model):
    """One version (版) of the terms of use and privacy policy residents agree to on My Page.

    The version in force is the latest whose 施行日時 has come. A version someone agreed to
    can no longer be edited (what they agreed to must stay what it was): staff add a new
    version instead, and residents who agreed to an older one are asked again when the new
    one says so (``requires_reagreement``).
    """

    version = models.CharField(
        "版", max_length=50, unique=True, help_text="例: 第2版（2027年4月1日施行）。市民の画面に表示します。"
    )
    effective_at = models.DateTimeField(
        "施行日時", default=timezone.now, help_text="この日時から、市民に同意を求めるのがこの版になります。"
    )
    purpose = RichTextField(
        "利用目的のお知らせ",
        help_text="登録の前に必ず表示します。集める情報と、その使い道を短く書きます。",
    )
    terms = RichTextField("利用規約")
    privacy_policy = RichTextField("プライバシーポリシー（個人情報の取扱い）")
    change_summary = models.TextField(
        "前の版からの主な変更点", blank=True, help_text="同意し直してもらうときに、市民に表示します。"
    )
    requires_reagreement = models.BooleanField(
        "同意し直してもらう",
        default=True,
        help_text="前の版に同意した人にも、この版への同意を求めます。誤字の修正など、中身が変わらない版では外します。",
    )
    created_at = models.DateTimeField("作成日時", auto_now_add=True)

    class Meta:
        verbose_name = "利用規約・プライバシーポリシー"
        verbose_name_plural = "利用規約・プライバシーポリシー"
        ordering = ["-effective_at", "-pk"]

    def __str__(self) -> str:
        return self.version

    @property
    def in_force(self) -> bool:
        return self.effective_at <= timezone.now()

    def agreed_count(self) -> int:
        return self.consents.count()

    def clean(self) -> None:
        super().clean()
        if self.pk and Consent.objects.filter(terms_id=self.pk).exists():
            raise ValidationError(
                "この版にはすでに同意した人がいるため、変更できません。内容を変えるときは、新しい版を追加してください。"
            )


class Consent(models.Model):
    """A resident's agreement to a version of the terms, found by the keyed hash of their LINE user id.

    When the resident withdraws, the hash is cleared: the row stays as an anonymous count of
    agreements to that version.
    """

    line_user_hash = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    terms = models.ForeignKey(
        TermsVersion, on_delete=models.PROTECT, related_name="consents", verbose_name="版"
    )
    agreed_at = models.DateTimeField("同意日時", default=timezone.now)

    class Meta:
        verbose_name = "利用規約への同意"
        verbose_name_plural = "利用規約への同意"
        ordering = ["agreed_at", "pk"]

    def __str__(self) -> str:
        return f"{self.terms} への同意"


@register_setting(icon="user", name="mypage")
class MyPageSettings(BaseGenericSetting):
    """マイページの案内: the message a new friend gets, with a button that opens My Page."""

    invite_on_follow = models.BooleanField(
        "友だち追加のときにマイページを案内する",
        default=True,
        help_text="友だち追加（ブロック解除を含む）のとき、受信設定の登録を案内するメッセージを送ります。",
    )
    invite_text = models.TextField(
        "案内の文",
        max_length=160,
        default=(
            "友だち追加ありがとうございます。受け取りたい情報やお住まいの地区を登録すると、"
            "あなたに合ったお知らせが届きます。"
        ),
        help_text="160文字まで（LINE のボタン付きメッセージの上限）。",
    )
    invite_button = models.CharField("ボタンの文字", max_length=20, default="マイページで登録する")

    panels = [FieldPanel("invite_on_follow"), FieldPanel("invite_text"), FieldPanel("invite_button")]

    class Meta:
        verbose_name = "マイページの案内"

    def invitation(self, liff_id: str) -> dict[str, Any]:
        """The LINE message: the text with a button opening My Page (the LIFF app) inside LINE."""
        text = self.invite_text.strip()
        return {
            "type": "template",
            "altText": text,
            "template": {
                "type": "buttons",
                "text": text,
                "actions": [
                    {"type": "uri", "label": self.invite_button, "uri": f"https://liff.line.me/{liff_id}"}
                ],
            },
        }
