"""Residents who blocked the account long ago are forgotten; those who stayed or came back are not."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from line_channel import followers
from line_channel.models import Follower
from residents.attributes import attributes_of
from residents.models import AttributeChange, AttributeFormPage, AttributeToken
from residents.services import save_attributes, withdraw
from residents.tasks import purge_departed_residents
from tests.residents.conftest import FIRST_ANSWERS

pytestmark = pytest.mark.django_db


def resident(user_id: str, *, page: AttributeFormPage, blocked_days_ago: int | None) -> None:
    now = timezone.now()
    followers.record_follow(line_user_id=user_id, at=now - timedelta(days=400), event_id=f"f-{user_id}")
    Follower.objects.filter(line_user_id=user_id).update(
        display_name="大船渡 花子", profile_fetched_at=now - timedelta(days=400)
    )
    save_attributes(page=page, line_user_id=user_id, answers=dict(FIRST_ANSWERS), actor="resident")
    if blocked_days_ago is not None:
        at = now - timedelta(days=blocked_days_ago)
        followers.record_unfollow(line_user_id=user_id, at=at, event_id=f"u-{user_id}")


def test_departed_residents_are_forgotten_after_the_retention_period(
    attribute_page: AttributeFormPage, settings: Any
) -> None:
    settings.KAIRAN_RESIDENT_RETENTION_DAYS = 90
    resident("U-gone", page=attribute_page, blocked_days_ago=91)
    resident("U-recent", page=attribute_page, blocked_days_ago=30)
    resident("U-friend", page=attribute_page, blocked_days_ago=None)
    changes_before = AttributeChange.objects.count()

    assert purge_departed_residents() == 1
    assert not attributes_of("U-gone").exists
    assert attributes_of("U-recent").exists and attributes_of("U-friend").exists
    gone = Follower.objects.get(line_user_id="U-gone")
    assert gone.display_name == "" and gone.profile_fetched_at is None
    assert Follower.objects.get(line_user_id="U-recent").display_name == "大船渡 花子"
    # Anonymous counts stay: the entries are kept without resident or values, plus a 削除.
    assert AttributeChange.objects.count() == changes_before + 1
    assert all(entry.changed == {} for entry in AttributeChange.objects.filter(resident__isnull=True))
    assert AttributeToken.objects.filter(resident__isnull=True).count() == 0
    assert purge_departed_residents() == 0  # once


def test_withdraw_removes_everything_and_a_second_call_finds_nothing(
    attribute_page: AttributeFormPage,
) -> None:
    save_attributes(page=attribute_page, line_user_id="U-w", answers=dict(FIRST_ANSWERS), actor="resident")
    assert withdraw(line_user_id="U-w", actor="resident")
    assert not attributes_of("U-w").exists and not AttributeToken.objects.exists()
    assert not withdraw(line_user_id="U-w", actor="resident")


def test_a_resident_without_a_fetched_profile_is_purged_too(
    attribute_page: AttributeFormPage, settings: Any
) -> None:
    """LINE never gave the profile (or it was purged before): the 受信設定 still goes."""
    settings.KAIRAN_RESIDENT_RETENTION_DAYS = 90
    resident("U-noprofile", page=attribute_page, blocked_days_ago=120)
    Follower.objects.filter(line_user_id="U-noprofile").update(display_name="", profile_fetched_at=None)
    assert purge_departed_residents() == 1
    assert not attributes_of("U-noprofile").exists
    assert purge_departed_residents() == 0
