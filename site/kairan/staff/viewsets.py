"""Wagtail's user screens with our additions: help links and two-factor reset."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from wagtail.admin.widgets.button import HeaderButton
from wagtail.users.views import users

from kairan.manual.help import HelpLinkMixin
from kairan.staff.roles import is_system_admin


class IndexView(HelpLinkMixin, users.IndexView):
    help_page = "staff"


class CreateView(HelpLinkMixin, users.CreateView):
    help_page = "staff"


class EditView(HelpLinkMixin, users.EditView):
    help_page = "staff"

    def get_header_buttons(self) -> list[Any]:
        buttons = super().get_header_buttons()
        if is_system_admin(self.request.user) and not self.editing_self:
            from django_otp import devices_for_user

            if any(True for _ in devices_for_user(self.object, confirmed=None)):
                buttons.append(
                    HeaderButton(
                        label="二要素認証をリセット",
                        url=reverse("kairan_mfa_reset", args=[self.object.pk]),
                        icon_name="lock-open",
                        priority=900,
                    )
                )
        return buttons


class StaffUserViewSet(users.UserViewSet):
    index_view_class = IndexView
    add_view_class = CreateView
    edit_view_class = EditView
