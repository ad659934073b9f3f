"""Followers (友だち): who added the account, blocked or deleted it and came back; profiles; counts.

Every follow, unblock and unfollow webhook event becomes one ``FollowChange`` keyed by the
event's id (so processing an event twice changes nothing) and updates the ``Follower``:

- ``followed_at`` / ``unfollowed_at``: the latest follow (or unblock) and unfollow (block or
  delete; LINE does not tell them apart), ``first_followed_at`` the earliest follow seen;
- ``status``: what the latest change *by event time* says, so events processed out of order
  (LINE's redeliveries may come in any order) still leave the right state.

Profiles (display name, picture, language; stored encrypted) are fetched through the gateway
by the processing task, never in the webhook request; a follower whose profile could not be
fetched is kept and fetched again by a schedule (``refresh_missing_profiles``).

``daily_series`` is the daily friend count for a period: the count at the end of each day is
today's count minus the net changes of the days after it, where a change counts only when it
changes the follower's state (a second follow in a row counts nothing). Followers Kairan never
saw a change for (friends from before it was connected) are part of today's count and of every
earlier day's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.db.models import Case, Count, IntegerField, OuterRef, Q, Subquery, Sum, Value, When
from django.db.models.functions import TruncDate
from django.utils import timezone

from line_channel.gateway import Gateway, LineApiError
from line_channel.models import FollowChange, Follower
from line_channel.ratelimit import RateLimited

log = logging.getLogger(__name__)

Kind = FollowChange.Kind
Status = Follower.Status
FOLLOWING_KINDS = (Kind.FOLLOW, Kind.UNBLOCK)

# Stop a profile refresh run after this many failures in a row (LINE is down or refusing).
PROFILE_FAILURES_BEFORE_STOP = 3

LANGUAGE_NAMES = {
    "ja": "日本語",
    "en": "英語",
    "ko": "韓国語",
    "zh-Hans": "中国語（簡体字）",
    "zh-Hant": "中国語（繁体字）",
    "zh-TW": "中国語（繁体字）",
    "th": "タイ語",
    "id": "インドネシア語",
    "vi": "ベトナム語",
    "es": "スペイン語",
    "pt-BR": "ポルトガル語（ブラジル）",
    "fr": "フランス語",
    "de": "ドイツ語",
    "tl": "タガログ語",
    "ne": "ネパール語",
}


def language_name(code: str) -> str:
    """A LINE language code as staff read it (the code itself when it is not a common one)."""
    return LANGUAGE_NAMES.get(code, code)


# --- follow / unfollow -----------------------------------------------------------------------


def _status_after(kind: str) -> str:
    return Status.FOLLOWING if kind in FOLLOWING_KINDS else Status.BLOCKED


@transaction.atomic
def _record_change(*, line_user_id: str, kind: str, at: datetime, event_id: str) -> Follower:
    following = kind in FOLLOWING_KINDS
    Follower.objects.get_or_create(
        line_user_id=line_user_id,
        defaults={
            "status": _status_after(kind),
            "first_followed_at": at,
            "followed_at": at,
            "unfollowed_at": None if following else at,
        },
    )
    # One follower's changes are applied one at a time (a row lock on PostgreSQL; SQLite's
    # write transactions are serial anyway).
    follower = Follower.objects.select_for_update().get(line_user_id=line_user_id)
    change, created = FollowChange.objects.get_or_create(
        event_id=event_id, defaults={"follower": follower, "kind": kind, "at": at}
    )
    if not created:
        return follower  # this event was recorded before
    latest = FollowChange.objects.filter(follower=follower).order_by("-at", "-id").only("pk").first()
    if latest is not None and latest.pk == change.pk:
        follower.status = _status_after(kind)
    # An unfollow means a follow before it: the first follow is no later than any change.
    follower.first_followed_at = min(follower.first_followed_at, at)
    if following:
        follower.followed_at = max(follower.followed_at, at)
        follower.profile_fetched_at = None  # fetch the (possibly changed) profile again
    else:
        follower.unfollowed_at = max(follower.unfollowed_at or at, at)
    follower.save()
    return follower


def record_follow(*, line_user_id: str, at: datetime, event_id: str, unblocked: bool = False) -> Follower:
    """A follow event: a new friend, a friend again after deleting, or (``unblocked``) after a block."""
    kind = Kind.UNBLOCK if unblocked else Kind.FOLLOW
    return _record_change(line_user_id=line_user_id, kind=kind, at=at, event_id=event_id)


def record_unfollow(*, line_user_id: str, at: datetime, event_id: str) -> Follower:
    """An unfollow event: the user blocked or deleted the account."""
    return _record_change(line_user_id=line_user_id, kind=Kind.UNFOLLOW, at=at, event_id=event_id)


# --- profiles ----------------------------------------------------------------------------------


def fetch_profile(*, follower: Follower, gateway: Gateway) -> bool:
    """Fetch and store the follower's profile; False (and nothing changed) when LINE did not give it.

    A 404 means LINE no longer knows the user as a friend: the profile is not asked for again
    until they follow again. Other failures leave ``profile_fetched_at`` empty for the schedule.
    """
    try:
        profile = gateway.profile(follower.line_user_id)
    except (LineApiError, RateLimited) as exc:
        log.warning("profile of %s not fetched now: %s", follower.line_user_id, exc)
        return False
    now = timezone.now()
    if profile is None:
        Follower.objects.filter(pk=follower.pk).update(profile_fetched_at=now)
        return False
    language_field = Follower._meta.get_field("language")
    Follower.objects.filter(pk=follower.pk).update(
        display_name=profile.display_name,
        picture_url=profile.picture_url,
        language=profile.language[: language_field.max_length or 16],
        profile_fetched_at=now,
    )
    return True


def fetch_profile_if_needed(*, follower_id: int, gateway: Callable[[], Gateway]) -> bool:
    """Fetch the profile of a friend who has none yet (``gateway`` is called only when needed)."""
    follower = Follower.objects.filter(
        pk=follower_id, status=Status.FOLLOWING, profile_fetched_at__isnull=True
    ).first()
    if follower is None:
        return False
    return fetch_profile(follower=follower, gateway=gateway())


def refresh_missing_profiles(*, limit: int = 200, gateway: Gateway | None = None) -> int:
    """Fetch the profiles that could not be fetched when the friends followed; return how many."""
    waiting = list(
        Follower.objects.filter(status=Status.FOLLOWING, profile_fetched_at__isnull=True).order_by(
            "followed_at"
        )[:limit]
    )
    if not waiting:
        return 0
    own = gateway is None
    gateway = gateway or Gateway.from_settings(attempts=2)
    fetched = failures = 0
    try:
        for follower in waiting:
            if fetch_profile(follower=follower, gateway=gateway):
                fetched += 1
                failures = 0
            else:
                refreshed = Follower.objects.filter(pk=follower.pk).values_list(
                    "profile_fetched_at", flat=True
                )
                if refreshed.first() is None:  # not a 404: LINE failed
                    failures += 1
                    if failures >= PROFILE_FAILURES_BEFORE_STOP:
                        log.warning("profile refresh stopped after %d failures in a row", failures)
                        break
    finally:
        if own:
            gateway.close()
    return fetched


# --- counts and the daily series ------------------------------------------------------------------


@dataclass(frozen=True)
class DayCount:
    day: date
    friends: int  # friends at the end of the day
    gained: int  # follows and unblocks that made someone a friend
    lost: int  # blocks and deletions

    @property
    def net(self) -> int:
        return self.gained - self.lost


@dataclass(frozen=True)
class FriendCounts:
    friends: int
    blocked: int
    today: DayCount


def _local_midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _changes_by_day(since: datetime) -> dict[date, tuple[int, int]]:
    """(gained, lost) per local day for the changes from ``since`` on, counting state changes only."""
    earlier = Q(at__lt=OuterRef("at")) | Q(at=OuterRef("at"), pk__lt=OuterRef("pk"))
    previous_kind = Subquery(
        FollowChange.objects.filter(earlier, follower_id=OuterRef("follower_id"))
        .order_by("-at", "-pk")
        .values("kind")[:1]
    )
    was_not_friend = Q(previous__isnull=True) | Q(previous=Kind.UNFOLLOW)
    was_friend = Q(previous__isnull=True) | Q(previous__in=FOLLOWING_KINDS)
    one, zero = Value(1), Value(0)
    rows = (
        FollowChange.objects.filter(at__gte=since)
        .annotate(previous=previous_kind, day=TruncDate("at"))
        .values("day")
        .annotate(
            gained=Sum(
                Case(
                    When(Q(kind__in=FOLLOWING_KINDS) & was_not_friend, then=one),
                    default=zero,
                    output_field=IntegerField(),
                )
            ),
            lost=Sum(
                Case(
                    When(Q(kind=Kind.UNFOLLOW) & was_friend, then=one),
                    default=zero,
                    output_field=IntegerField(),
                )
            ),
        )
        .order_by("day")
    )
    return {row["day"]: (int(row["gained"] or 0), int(row["lost"] or 0)) for row in rows}


def daily_series(*, start: date, end: date | None = None) -> list[DayCount]:
    """Friends at the end of each day from ``start`` to ``end`` (at most today), with each day's changes."""
    today = timezone.localdate()
    end = min(end or today, today)
    if start > end:
        return []
    changes = _changes_by_day(_local_midnight(start))
    friends = Follower.objects.filter(status=Status.FOLLOWING).count()
    series: list[DayCount] = []
    day = today
    while day >= start:
        gained, lost = changes.get(day, (0, 0))
        if day <= end:
            series.append(DayCount(day=day, friends=friends, gained=gained, lost=lost))
        friends -= gained - lost  # the count at the end of the day before
        day -= timedelta(days=1)
    series.reverse()
    return series


def friend_counts() -> FriendCounts:
    """友だち数, ブロック数 and today's changes (今日の増減), for the list and the dashboard."""
    by_status = dict(
        Follower.objects.order_by().values("status").annotate(n=Count("pk")).values_list("status", "n")
    )
    [today] = daily_series(start=timezone.localdate())
    return FriendCounts(
        friends=int(by_status.get(Status.FOLLOWING, 0)),
        blocked=int(by_status.get(Status.BLOCKED, 0)),
        today=today,
    )
