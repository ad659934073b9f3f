"""Writing residents' attributes: the only place ``ResidentAttributes``, its history and tokens change.

``actor`` says who made the change: ``"resident"`` (the resident through the
form), ``"staff:<user id>"`` or ``"retention"`` (the retention purge, ``residents.tasks``);
a staff change is also written to the operation log (keys only, never values).
"""

from __future__ import annotations

import re
from typing import Any

from django.db import transaction
from django.db.models import Q

from home.forms.models import FormPageSubmission, line_user_hash
from line_channel.models import Follower
from residents.attributes import REGISTERED, attribute_field_types, token_number, tokens_for_answers
from residents.consent import resident_number
from residents.models import (
    AttributeChange,
    AttributeFormPage,
    AttributeToken,
    AudienceEntry,
    Consent,
    ResidentAttributes,
)

_ACTOR = re.compile(r"^(resident|staff:\d+|retention)$")


def _check_actor(actor: str) -> None:
    if not _ACTOR.match(actor):
        raise ValueError(f"actor must be 'resident' or 'staff:<user id>', not {actor!r}")


def _log_staff(
    *, actor: str, action: str, line_user_id: str, keys: list[str], label: str = "受信設定"
) -> None:
    if not actor.startswith("staff:"):
        return
    from django.contrib.auth import get_user_model

    from kairan.oplog.services import record

    user = get_user_model().objects.filter(pk=int(actor.removeprefix("staff:"))).first()
    record(
        action=action,
        user=user,
        object_type="residents.residentattributes",
        object_id=resident_number(line_user_id),
        object_label=label,
        username=actor,
        data={"keys": keys},
    )


def _find(line_user_id: str, *, for_update: bool = False) -> ResidentAttributes | None:
    rows = ResidentAttributes.objects.filter(line_user_hash=line_user_hash(line_user_id))
    row = (rows.select_for_update() if for_update else rows).first()
    if row is not None and row.line_user_id != line_user_id:
        return None  # a hash collision is not the same resident
    return row


def current_answers(line_user_id: str) -> dict[str, Any]:
    """The resident's stored answers by key (empty when none), as the form pre-fills them."""
    row = _find(line_user_id)
    return row.current if row is not None else {}


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each key whose value differs, with its value before and after (None when absent)."""
    return {
        key: {"before": before.get(key), "after": after.get(key)}
        for key in sorted(before.keys() | after.keys())
        if before.get(key) != after.get(key)
    }


def _friend(line_user_hash_: str) -> tuple[int | None, bool]:
    """The friend's id for this hash (None if they never were one) and whether they follow now."""
    row = Follower.objects.filter(line_user_hash=line_user_hash_).values_list("pk", "status").first()
    return (row[0], row[1] == Follower.Status.FOLLOWING) if row else (None, False)


def _rewrite_tokens(row: ResidentAttributes, field_types: dict[str, str]) -> None:
    """Write the resident's index entries: ``AttributeToken`` rows and the ``AudienceEntry`` array."""
    AttributeToken.objects.filter(resident=row).delete()
    tokens = tokens_for_answers(row.current, field_types)
    follower_id, reachable = _friend(row.line_user_hash)
    AttributeToken.objects.bulk_create(
        AttributeToken(resident=row, token=token, reachable=reachable) for token in sorted(tokens)
    )
    if not tokens:
        AudienceEntry.objects.filter(resident=row).delete()
        return
    numbers = sorted(token_number(t) for t in tokens if t != REGISTERED)
    AudienceEntry.objects.update_or_create(
        resident=row, defaults={"reachable": reachable, "tokens": numbers, "follower_id": follower_id}
    )


def sync_reachability(*, line_user_id: str) -> int:
    """Make the resident's index entries follow their friend status (after a follow or an unfollow).

    Segments read only reachable entries, so a friend who blocked the account drops out of every
    audience at once, and comes back when they follow again. Returns the entries changed.
    """
    key = line_user_hash(line_user_id)
    follower_id, friend = _friend(key)
    same_friend = Q(follower_id=follower_id) if follower_id else Q(follower__isnull=True)
    AudienceEntry.objects.filter(resident__line_user_hash=key).exclude(
        Q(reachable=friend) & same_friend
    ).update(reachable=friend, follower_id=follower_id)
    entries = AttributeToken.objects.filter(resident__line_user_hash=key).exclude(reachable=friend)
    return entries.update(reachable=friend)


@transaction.atomic
def save_attributes(
    *, page: AttributeFormPage, line_user_id: str, answers: dict[str, Any], actor: str
) -> ResidentAttributes:
    """Make ``answers`` the resident's current attributes; history and tokens only when they changed."""
    _check_actor(actor)
    if not line_user_id:
        raise ValueError("受信設定には LINE ユーザーID が必要です。")
    row = _find(line_user_id, for_update=True)
    before = row.current if row is not None else {}
    changes = diff(before, answers)
    if row is not None and not changes:
        return row
    if row is None:
        row = ResidentAttributes.objects.create(
            line_user_hash=line_user_hash(line_user_id),
            line_user_id=line_user_id,
            answers=answers,  # type: ignore[misc]  # a TextField to the stubs
        )
        kind = AttributeChange.Kind.CREATED
    else:
        row.answers = answers  # type: ignore[assignment]  # a TextField to the stubs
        row.save(update_fields=["answers", "updated_at"])
        kind = AttributeChange.Kind.CHANGED
    AttributeChange.objects.create(
        resident=row,
        actor=actor,
        kind=kind,
        changes=changes,  # type: ignore[misc]  # a TextField to the stubs
    )
    field_types = attribute_field_types() | {
        spec.clean_name: spec.field_type for spec in page.get_form_fields()
    }
    _rewrite_tokens(row, field_types)
    action = "kairan.write.create" if kind == AttributeChange.Kind.CREATED else "kairan.write.update"
    _log_staff(actor=actor, action=action, line_user_id=line_user_id, keys=sorted(changes))
    return row


@transaction.atomic
def delete_attributes(*, line_user_id: str, actor: str) -> bool:
    """Delete the resident's answers and tokens, and the values in their history.

    The history keeps its entries (登録, 変更, when, by whom, which items) so staff still see
    what happened, plus a 「削除」 entry; the before/after values, personal data, are erased.
    Returns whether there was anything to delete. (Withdrawing entirely removes the rest.)
    """
    _check_actor(actor)
    row = _find(line_user_id, for_update=True)
    if row is None or not row.current:
        return False
    for entry in AttributeChange.objects.filter(resident=row):
        entry.changes = {key: {} for key in entry.changed}  # type: ignore[assignment]  # a TextField to the stubs
        entry.save(update_fields=["changes"])
    AttributeChange.objects.create(
        resident=row,
        actor=actor,
        kind=AttributeChange.Kind.DELETED,
        changes={key: {} for key in row.current},  # type: ignore[misc]  # a TextField to the stubs
    )
    row.answers = {}  # type: ignore[assignment]  # a TextField to the stubs
    row.save(update_fields=["answers", "updated_at"])
    AttributeToken.objects.filter(resident=row).delete()
    AudienceEntry.objects.filter(resident=row).delete()
    _log_staff(actor=actor, action="kairan.write.delete", line_user_id=line_user_id, keys=[])
    return True


@transaction.atomic
def withdraw(*, line_user_id: str, actor: str) -> bool:
    """The resident leaves: everything that ties what we hold to them goes.

    - 受信設定: answers, tokens and the history's values are deleted; the history entries stay
      as anonymous counts (kind and time, no resident), so the resident's departure does not
      change how many registrations and changes there were.
    - Agreements to the terms: kept as anonymous counts per version (the hash is cleared).
    - Form submissions (reports, surveys): no longer tied to the resident (LINE user id and
      hash cleared); what they wrote stays as the city's record of the report or answer, and
      no reply can reach them any more.

    Returns whether anything was held.
    """
    _check_actor(actor)
    key = line_user_hash(line_user_id)
    consents = Consent.objects.filter(line_user_hash=key).update(line_user_hash="")
    submissions = FormPageSubmission.objects.filter(line_user_hash=key).update(
        line_user_hash="", line_user_id=""
    )
    row = _find(line_user_id, for_update=True)
    if row is not None:
        AttributeChange.objects.filter(resident=row).update(changes={}, resident=None)
        AttributeChange.objects.create(
            resident=None,
            actor=actor,
            kind=AttributeChange.Kind.DELETED,
            changes={},  # type: ignore[misc]  # a TextField to the stubs
        )
        row.delete()  # its tokens go with it
    held = row is not None or bool(consents or submissions)
    if held:
        _log_staff(
            actor=actor, action="kairan.write.delete", line_user_id=line_user_id, keys=[], label="利用登録"
        )
    return held


def reindex_all() -> int:
    """Rewrite every resident's tokens (after ``KAIRAN_INDEX_KEY`` or ``SECRET_KEY`` changed)."""
    field_types = attribute_field_types()
    count = 0
    for row in ResidentAttributes.objects.all():
        with transaction.atomic():
            _rewrite_tokens(row, field_types)
        count += 1
    return count
