"""The segment builder: staff choose conditions with menus and check boxes, never write JSON.

``SegmentBuilderWidget`` renders the definition (the JSON tree of ``deliveries.audience``) into a
hidden ``<textarea>`` that the form posts, and a container that ``segment-builder.js`` turns into
the builder; the container's data attributes give the URLs of the fields and count endpoints
(``deliveries.views_segments``). Use it for ``Segment.definition`` and ``Delivery.conditions``::

    FieldPanel("conditions", widget=SegmentBuilderWidget())

The posted value is JSON text, which the model's form field (``forms.JSONField``) parses; whether
the tree is a valid segment is the model's ``clean()`` (``audience.validate``) to say, in Japanese.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.urls import reverse

EMPTY_DEFINITION = '{"op": "and", "items": []}'


class SegmentBuilderWidget(forms.Widget):
    template_name = "deliveries/widgets/segment_builder.html"

    class Media:
        js = ["deliveries/segment-builder.js"]
        css = {"all": ["deliveries/segment-builder.css"]}

    def format_value(self, value: Any) -> str:
        """The definition as JSON text (``forms.JSONField`` hands text over; a plain field, a dict)."""
        if value is None or value == "":
            return EMPTY_DEFINITION
        if isinstance(value, str):
            return value
        return json.dumps(value, ensure_ascii=False)

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        from deliveries.audience import MAX_CONDITIONS, MAX_DEPTH  # (models import this module)

        context: dict[str, Any] = super().get_context(name, value, attrs)
        widget_attrs = context["widget"]["attrs"]
        # ARIA attributes describe what staff operate: the builder, not the hidden textarea.
        context["widget"]["builder_attrs"] = {
            key: widget_attrs.pop(key) for key in list(widget_attrs) if key.startswith("aria-")
        }
        # A hidden control cannot show the browser's "required" bubble (the builder always fills it).
        widget_attrs.pop("required", None)
        context["widget"].update(
            fields_url=reverse("deliveries_segment_fields"),
            count_url=reverse("deliveries_segment_count"),
            max_depth=MAX_DEPTH,
            max_conditions=MAX_CONDITIONS,
        )
        return context

    def id_for_label(self, id_: str) -> str:
        """No ``<label for>`` pointing at the hidden textarea: Wagtail shows the heading instead."""
        return ""

    def value_from_datadict(self, data: Any, files: Any, name: str) -> str | None:
        """The posted JSON text, as ``forms.JSONField`` expects it (parsed by the field).

        Text that is not JSON is passed on as it is, for the field to report. A blank value (the
        builder never posts one) is the empty definition. Handing the field a parsed dict would
        break ``forms.JSONField.bound_data`` (``json.loads`` of a dict) whenever a form with errors
        is shown again.
        """
        if name not in data:
            return None
        raw = data.get(name)
        text = raw.strip() if isinstance(raw, str) else ""
        if not text:
            return EMPTY_DEFINITION
        try:
            return json.dumps(json.loads(text), ensure_ascii=False)
        except ValueError:
            return text

    def value_omitted_from_data(self, data: Any, files: Any, name: str) -> bool:
        return name not in data
