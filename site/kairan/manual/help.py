"""Links from admin screens to their page of the in-system manual."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from wagtail.admin.widgets.button import HeaderButton


def manual_url(slug: str) -> str:
    """URL of a manual page, by the Markdown file's name without ``.md``."""
    return reverse("kairan_manual:page", args=[slug])


class HelpLinkMixin:
    """Adds a 「ヘルプ」 header button to a Wagtail generic admin view.

    Set ``help_page`` to the manual page's slug (``docs/manual/<slug>.md``).
    """

    help_page: str = ""

    def get_header_buttons(self) -> list[Any]:
        buttons: list[Any] = list(super().get_header_buttons())  # type: ignore[misc]
        if self.help_page:
            buttons.append(
                HeaderButton(
                    label="ヘルプ",
                    url=manual_url(self.help_page),
                    icon_name="help",
                    attrs={"data-kairan-help": self.help_page},
                    priority=1000,
                )
            )
        return buttons
