"""Django-Q tasks of the residents app. Every task is idempotent."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from home.forms.models import FormPageSubmission
from line_channel.models import Follower
from residents.models import Consent, ResidentAttributes
from residents.services import withdraw


def purge_departed_residents(*, now: datetime | None = None) -> int:
    """Daily: forget residents who blocked the account long ago and did not come back.

    A friend who blocked (or deleted) the account more than ``KAIRAN_RESIDENT_RETENTION_DAYS``
    ago gets nothing from us any more; what we hold about them goes, as when they withdraw
    on My Page (``services.withdraw``: 受信設定, agreements, the link to their form answers;
    anonymous counts stay), and their LINE profile (display name, picture). A follower keeps
    only the LINE user id and the dates behind the friend counts. Who still has something
    here: a fetched profile (``profile_fetched_at``, cleared with it) or rows under their hash;
    so each resident is purged once (a re-follow fetches the profile again). Returns how many.
    """
    cutoff = (now or timezone.now()) - timedelta(days=settings.KAIRAN_RESIDENT_RETENTION_DAYS)
    holds = Q(profile_fetched_at__isnull=False)
    for model in (ResidentAttributes, Consent, FormPageSubmission):  # ("" = anonymous rows)
        holds |= Q(line_user_hash__in=model.objects.exclude(line_user_hash="").values("line_user_hash"))
    departed = Follower.objects.filter(holds, status=Follower.Status.BLOCKED, unfollowed_at__lt=cutoff)
    purged = 0
    for follower in departed.iterator(chunk_size=500):
        with transaction.atomic():
            withdraw(line_user_id=follower.line_user_id, actor="retention")
            Follower.objects.filter(pk=follower.pk, status=Follower.Status.BLOCKED).update(
                display_name="", picture_url="", language="", profile_fetched_at=None
            )
        purged += 1
    return purged
