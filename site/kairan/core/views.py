from __future__ import annotations

from datetime import timedelta

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache

from kairan import __version__
from kairan.core.models import Heartbeat
from kairan.core.tasks import QCLUSTER_HEARTBEAT

# The heartbeat schedule runs every minute; three missed beats mean trouble.
HEARTBEAT_STALE_AFTER = timedelta(minutes=3)


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for monitors and load balancers: database and Django-Q cluster."""
    checks: dict[str, dict[str, object]] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        checks["database"] = {"ok": True}
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        checks["database"] = {"ok": False, "error": exc.__class__.__name__}

    if checks["database"]["ok"]:
        beat = Heartbeat.objects.filter(name=QCLUSTER_HEARTBEAT).first()
        if beat is None:
            checks["qcluster"] = {"ok": False, "error": "no heartbeat yet"}
        else:
            age = timezone.now() - beat.beat_at
            checks["qcluster"] = {
                "ok": age <= HEARTBEAT_STALE_AFTER,
                "last_heartbeat": beat.beat_at.isoformat(),
                "age_seconds": int(age.total_seconds()),
            }
    else:
        checks["qcluster"] = {"ok": False, "error": "database unreachable"}

    healthy = all(check["ok"] for check in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "fail", "version": __version__, "checks": checks},
        status=200 if healthy else 503,
        json_dumps_params={"ensure_ascii": False},
    )
