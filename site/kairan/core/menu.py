"""Admin menu pieces shared by the apps' hooks."""

from __future__ import annotations

from typing import Any

from wagtail.admin.menu import MenuItem


class PermissionMenuItem(MenuItem):
    """A menu item shown to staff holding any of ``permissions``."""

    def __init__(self, *args: Any, permissions: tuple[str, ...], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.permissions = permissions

    def is_shown(self, request: Any) -> bool:
        return any(request.user.has_perm(p) for p in self.permissions)
