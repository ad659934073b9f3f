"""Which terms a resident has agreed to, and agreeing: the first step of My Page.

A resident registers (受信設定) only after agreeing to the version of the terms of
use and privacy policy in force (``TermsVersion``). When staff publish a new
version that asks for it (``requires_reagreement``), residents who agreed to an
older one are asked again before they can change their settings; a version that
does not ask (a typo fix) keeps their earlier agreement valid.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from home.forms.models import line_user_hash
from residents.models import Consent, TermsVersion


def terms_in_force() -> TermsVersion | None:
    """The version residents are shown and agree to now (the latest whose 施行日時 has come)."""
    return (
        TermsVersion.objects.filter(effective_at__lte=timezone.now()).order_by("-effective_at", "-pk").first()
    )


def _required() -> TermsVersion | None:
    """The oldest version an agreement may be to: the latest in force that asks everyone again
    (or the first version, which every resident agrees to)."""
    in_force = TermsVersion.objects.filter(effective_at__lte=timezone.now())
    asking = in_force.filter(requires_reagreement=True).order_by("-effective_at", "-pk").first()
    return asking or in_force.order_by("effective_at", "pk").first()


def _is_older(agreed: TermsVersion, required: TermsVersion) -> bool:
    return (agreed.effective_at, agreed.pk) < (required.effective_at, required.pk)


@dataclass(frozen=True)
class ConsentStatus:
    """A resident's standing with the terms."""

    in_force: TermsVersion | None  # what they would agree to now; None: no terms set up yet
    agreed: Consent | None  # their latest agreement
    needs_agreement: bool

    @property
    def is_reagreement(self) -> bool:
        """They agreed before, to a version that no longer suffices."""
        return self.agreed is not None and self.needs_agreement


def consent_status(line_user_id: str) -> ConsentStatus:
    in_force = terms_in_force()
    agreed = (
        Consent.objects.filter(line_user_hash=line_user_hash(line_user_id))
        .select_related("terms")
        .order_by("-terms__effective_at", "-terms__pk", "-pk")
        .first()
    )
    required = _required()
    needs = in_force is None or agreed is None or (required is not None and _is_older(agreed.terms, required))
    return ConsentStatus(in_force=in_force, agreed=agreed, needs_agreement=needs)


def needs_agreement(line_user_id: str) -> bool:
    """Whether the resident must (re-)agree to the terms before registering or changing settings."""
    return consent_status(line_user_id).needs_agreement


TERMS_CHANGED = "利用規約が新しくなりました。新しい内容を確認してから、もう一度同意してください。"


class TermsChanged(ValueError):
    """The version the resident read is not the one in force any more."""

    def __init__(self) -> None:
        super().__init__(TERMS_CHANGED)


@transaction.atomic
def agree(*, line_user_id: str, terms: TermsVersion) -> Consent:
    """Record that the resident agreed to ``terms``, which must be the version in force.

    Agreeing twice to the same version records it once.
    """
    if not line_user_id:
        raise ValueError("同意には LINE ユーザーID が必要です。")
    in_force = terms_in_force()
    if in_force is None or in_force.pk != terms.pk:
        raise TermsChanged
    key = line_user_hash(line_user_id)
    existing = Consent.objects.filter(line_user_hash=key, terms=terms).first()
    return existing or Consent.objects.create(line_user_hash=key, terms=terms)


def resident_number(line_user_id: str) -> str:
    """The resident's お問い合わせ番号: ten characters of the keyed hash, e.g. ``3FA9C-01B7E``.

    My Page shows it, so a resident who asks the city about their data (disclosure, deletion)
    can be found by staff without telling anyone their LINE user id.
    """
    digest = line_user_hash(line_user_id)[:10].upper()
    return f"{digest[:5]}-{digest[5:]}"
