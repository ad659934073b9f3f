"""The red 災害モード banner on every admin page (``wagtailadmin/base.html``)."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.inclusion_tag("richmenus/emergency_banner.html", takes_context=True)
def emergency_banner(context: dict[str, Any]) -> dict[str, Any]:
    from richmenus.emergency import active

    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"switch": None, "rehearsal": None}
    return {"switch": active(), "rehearsal": active(rehearsal=True)}
