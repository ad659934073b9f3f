"""The staff roles (Wagtail groups) and who must use two-factor authentication."""

from __future__ import annotations

from typing import Any

ADMIN = "システム管理者"
APPROVER = "承認者"
EDITOR = "担当者"
VIEWER = "閲覧者"
ROLES = (ADMIN, APPROVER, EDITOR, VIEWER)

# Wagtail's own migrations create these two groups and wire its default
# moderation workflow to "Moderators"; our data migration renames them so the
# workflow's approval task belongs to 承認者.
WAGTAIL_GROUP_RENAMES = {"Moderators": APPROVER, "Editors": EDITOR}


def is_system_admin(user: Any) -> bool:
    return bool(user.is_superuser or user.groups.filter(name=ADMIN).exists())


def mfa_required(user: Any) -> bool:
    """システム管理者 always; everyone else when the security setting says so."""
    if is_system_admin(user):
        return True
    from kairan.staff.models import SecuritySettings

    return SecuritySettings.load().mfa_required_for_all
