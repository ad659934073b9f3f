from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.templatetags.static import static


def city_logo_url() -> str:
    return settings.KAIRAN_CITY_LOGO_URL or static("kairan/logo.svg")


def kairan(request: HttpRequest) -> dict[str, Any]:
    return {
        "KAIRAN_CITY_NAME": settings.KAIRAN_CITY_NAME,
        "KAIRAN_VERSION": settings.KAIRAN_VERSION,
        "KAIRAN_DEMO": settings.KAIRAN_DEMO,
        "KAIRAN_CITY_LOGO_URL": city_logo_url(),
        "KAIRAN_LOCKOUT_MINUTES": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60),
    }
