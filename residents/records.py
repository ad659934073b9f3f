"""Everything Kairan holds about one resident, gathered for staff: the resident's page in the
admin and the export for a disclosure request (開示請求, APPI art. 33).

A resident is found by the keyed hash of their LINE user id (``line_user_hash``), which every
row about them carries: the friend (``Follower``), the 受信設定, the agreements and the form
submissions. Staff reach a resident from the friends list or by the お問い合わせ番号 My Page
shows (the first ten hex digits of that hash).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from home.forms.answers import Column, columns_for_page, format_value
from home.forms.models import FormPageSubmission
from line_channel.models import FollowChange, Follower
from residents.attributes import AnswerLine, describe
from residents.consent import resident_number
from residents.models import AttributeChange, AttributeFormPage, Consent, ResidentAttributes

_NUMBER = re.compile(r"^[0-9a-f]{10}$")
_HASH = re.compile(r"^[0-9a-f]{64}$")
ACTORS = {"resident": "本人", "retention": "自動削除（保存期間の経過）"}


def is_hash(value: str) -> bool:
    return bool(_HASH.match(value))


def hash_for_number(number: str) -> str | None:
    """The resident hash an お問い合わせ番号 (``3FA9C-01B7E``, case and hyphens ignored) points to."""
    digits = re.sub(r"[\s\-ー－]", "", number).lower()
    if not _NUMBER.match(digits):
        return None
    for model in (Follower, ResidentAttributes, Consent, FormPageSubmission):
        found = (
            model.objects.filter(line_user_hash__startswith=digits)
            .values_list("line_user_hash", flat=True)
            .first()
        )
        if found:
            return str(found)
    return None


@dataclass(frozen=True)
class HistoryLine:
    """One 受信設定 change as staff read it."""

    at: datetime
    kind: str
    actor: str
    items: list[tuple[str, str, str]]  # (item label, before, after)


@dataclass(frozen=True)
class SubmissionRecord:
    submission: FormPageSubmission
    title: str
    answers: list[tuple[str, str]]  # (item label, answer)


@dataclass
class ResidentRecord:
    hash: str
    line_user_id: str
    follower: Follower | None
    follow_changes: list[FollowChange] = field(default_factory=list)
    consents: list[Consent] = field(default_factory=list)
    attributes: ResidentAttributes | None = None
    answers: list[AnswerLine] = field(default_factory=list)
    history: list[HistoryLine] = field(default_factory=list)
    submissions: list[SubmissionRecord] = field(default_factory=list)

    @property
    def number(self) -> str:
        return resident_number(self.line_user_id) if self.line_user_id else self.hash[:10].upper()

    @property
    def holds_anything(self) -> bool:
        return bool(self.follower or self.consents or self.attributes or self.submissions)


def _line_user_id(key: str) -> str:
    """The LINE user id behind a hash, from whichever row holds it (in clear or encrypted)."""
    follower_id = Follower.objects.filter(line_user_hash=key).values_list("line_user_id", flat=True).first()
    if follower_id:
        return str(follower_id)
    for model in (ResidentAttributes, FormPageSubmission):
        row = model.objects.filter(line_user_hash=key).only("line_user_id").first()
        if row is not None and row.line_user_id:
            return str(row.line_user_id)
    return ""


def _actor(actor: str, names: dict[int, str]) -> str:
    if actor in ACTORS:
        return ACTORS[actor]
    if actor.startswith("staff:") and actor[6:].isdigit():
        return f"職員（{names.get(int(actor[6:]), '削除されたアカウント')}）"
    return actor


def _history(row: ResidentAttributes) -> list[HistoryLine]:
    page = AttributeFormPage.objects.first()
    columns = {c.key: c for c in columns_for_page(page)} if page else {}
    entries = list(AttributeChange.objects.filter(resident=row).order_by("at", "pk"))
    staff_ids = {int(e.actor[6:]) for e in entries if e.actor.startswith("staff:") and e.actor[6:].isdigit()}
    names = {u.pk: u.get_username() for u in get_user_model().objects.filter(pk__in=staff_ids)}
    lines = []
    for entry in entries:
        items = []
        for key, change in entry.changed.items():
            column = columns.get(key) or Column(key, key, "")
            before = format_value(column, change.get("before")) if change else "（削除済み）"
            after = format_value(column, change.get("after")) if change else "（削除済み）"
            items.append((column.heading, str(before), str(after)))
        lines.append(HistoryLine(entry.at, entry.get_kind_display(), _actor(entry.actor, names), items))
    return lines


def _submissions(key: str) -> list[SubmissionRecord]:
    records = []
    columns_by_page: dict[int, list[Column]] = {}
    rows = (
        FormPageSubmission.objects.filter(line_user_hash=key).select_related("page").order_by("submit_time")
    )
    for submission in rows:
        page = submission.page
        if page.pk not in columns_by_page:
            columns_by_page[page.pk] = columns_for_page(page)
        answers = [
            (column.heading, str(format_value(column, submission.answers.get(column.key))))
            for column in columns_by_page[page.pk]
            if column.key in submission.answers
        ]
        records.append(SubmissionRecord(submission, page.title, answers))
    return records


def resident_record(key: str) -> ResidentRecord | None:
    """Everything held about the resident with this hash; None when nothing is held."""
    if not is_hash(key):
        return None
    follower = Follower.objects.filter(line_user_hash=key).first()
    attributes = ResidentAttributes.objects.filter(line_user_hash=key).first()
    record = ResidentRecord(
        hash=key,
        line_user_id=_line_user_id(key),
        follower=follower,
        follow_changes=list(FollowChange.objects.filter(follower=follower).order_by("at"))
        if follower
        else [],
        consents=list(
            Consent.objects.filter(line_user_hash=key).select_related("terms").order_by("agreed_at")
        ),
        attributes=attributes,
        answers=describe(attributes.current, for_staff=True) if attributes and attributes.current else [],
        history=_history(attributes) if attributes else [],
        submissions=_submissions(key),
    )
    return record if record.holds_anything else None


def _time(value: datetime | None) -> str:
    return timezone.localtime(value).isoformat(timespec="seconds") if value else ""


def disclosure(record: ResidentRecord, *, exported_by: str) -> dict[str, Any]:
    """The record as a JSON-ready document with Japanese keys, for a disclosure request."""
    follower = record.follower
    return {
        "作成日時": _time(timezone.now()),
        "作成者": exported_by,
        "お問い合わせ番号": record.number,
        "LINE ユーザーID": record.line_user_id,
        "LINE の友だち": None
        if follower is None
        else {
            "表示名": follower.display_name,
            "プロフィール画像": follower.picture_url,
            "言語": follower.language,
            "状態": follower.get_status_display(),
            "最初の友だち追加": _time(follower.first_followed_at),
            "友だち追加": _time(follower.followed_at),
            "ブロック": _time(follower.unfollowed_at),
            "履歴": [{"日時": _time(c.at), "内容": c.get_kind_display()} for c in record.follow_changes],
        },
        "利用規約への同意": [
            {"版": c.terms.version, "同意日時": _time(c.agreed_at)} for c in record.consents
        ],
        "受信設定": {line.label: line.text for line in record.answers},
        "受信設定の変更履歴": [
            {
                "日時": _time(h.at),
                "種類": h.kind,
                "変更した人": h.actor,
                "変更内容": [{"項目": i[0], "変更前": i[1], "変更後": i[2]} for i in h.items],
            }
            for h in record.history
        ],
        "フォームの回答": [
            {
                "フォーム": s.title,
                "送信日時": _time(s.submission.submit_time),
                "回答": dict(s.answers),
            }
            for s in record.submissions
        ],
    }
