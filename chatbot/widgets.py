"""A page chooser that works under the admin's CSP (Wagtail's own runs an inline script)."""

from __future__ import annotations

import json
from typing import Any

from django.forms.utils import flatatt
from django.templatetags.static import static
from django.utils.html import format_html
from django.utils.safestring import SafeString
from wagtail.admin.widgets import AdminPageChooser


class PageChooser(AdminPageChooser):
    """Wagtail's page chooser without its inline ``<script>`` (the CSP refuses it): a hidden marker
    carries the initialiser's options, and ``chatbot/page-chooser.js``, loaded right after it as the
    inline script would run, starts the chooser."""

    def render(self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None) -> Any:
        if not attrs or "id" not in attrs:
            raise TypeError("PageChooser needs an id attribute")
        value_data = self.get_value_data(value)
        html = self.render_html(name, value_data, attrs)
        options = self.get_js_init_options(attrs["id"], name, value_data)
        marker = flatatt(
            {"data-chatbot-page-chooser": attrs["id"], "data-chatbot-options": json.dumps(options)}
        )
        return SafeString(html) + format_html(
            '<span hidden{}></span><script src="{}"></script>', marker, static("chatbot/page-chooser.js")
        )


class AnswerPageChooser(PageChooser):
    """Chooses a チャットボットの回答 page (the settings' top, greeting and fallback pages)."""

    def __init__(self, **kwargs: Any) -> None:
        from chatbot.models import AnswerPage

        super().__init__(target_models=[AnswerPage], **kwargs)
