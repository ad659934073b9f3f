"""Writing, purging and checking the operation and access logs.

``record`` is the one way to add an operation-log entry. It appends to the
hash chain inside a transaction that locks the chain head, so concurrent
appends from several processes (or several machines on PostgreSQL) are
serialised and the chain stays linear.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.http import HttpRequest
from django.utils import timezone

from kairan.core.net import client_ip
from kairan.oplog import context
from kairan.oplog.actions import category_for
from kairan.oplog.chain import Verification, entry_hash, normalise_data, verify_chain
from kairan.oplog.models import AccessLogEntry, OperationLogChain, OperationLogEntry


def _clip(value: Any, length: int) -> str:
    text = "" if value is None else str(value)
    return text[:length]


def object_type_of(instance: models.Model) -> str:
    return f"{instance._meta.app_label}.{instance._meta.model_name}"


def _actor(user: Any, request: HttpRequest | None) -> tuple[int | None, str]:
    if user is None and request is not None:
        user = getattr(request, "user", None)
    if user is None or not getattr(user, "is_authenticated", False):
        return None, ""
    return int(user.pk), str(user.get_username())


def locked_head() -> OperationLogChain:
    """The chain head, locked until the end of the caller's transaction."""
    head = OperationLogChain.objects.select_for_update().filter(pk=1).first()
    if head is None:  # a database flushed after its migrations ran
        OperationLogChain.objects.get_or_create(pk=1)
        head = locked_head()
    return head


def record(
    *,
    action: str,
    user: Any = None,
    request: HttpRequest | None = None,
    instance: models.Model | None = None,
    object_type: str = "",
    object_id: str = "",
    object_label: str = "",
    username: str = "",
    data: dict[str, Any] | None = None,
    is_setting: bool = False,
    timestamp: datetime | None = None,
) -> OperationLogEntry:
    """Append one entry to the operation log.

    ``request`` defaults to the staff request being served (if any); the actor
    defaults to that request's user. ``username`` names an actor that has no
    account (e.g. a failed login with an unknown user name).
    """
    ctx = context.current()
    if request is None and ctx is not None:
        request = ctx.request
    actor_id, actor_name = _actor(user, request)
    if instance is not None:
        object_type = object_type or object_type_of(instance)
        object_id = object_id or str(instance.pk)
        object_label = object_label or str(instance)
    fields: dict[str, Any] = {
        "timestamp": timestamp or timezone.now(),
        "category": category_for(action, is_setting=is_setting).value,
        "action": _clip(action, 100),
        "actor_id": actor_id,
        "username": _clip(actor_name or username, 150),
        "ip_address": _clip(client_ip(request) if request is not None else "", 45),
        "object_type": _clip(object_type, 100),
        "object_id": _clip(object_id, 255),
        "object_label": _clip(object_label, 255),
        "path": _clip(request.get_full_path() if request is not None else "", 500),
        "data": normalise_data(data),
    }
    with transaction.atomic():
        head = locked_head()
        fields["sequence"] = head.last_sequence + 1
        digest = entry_hash(head.last_hash, fields)
        entry = OperationLogEntry.objects.create(prev_hash=head.last_hash, hash=digest, **fields)
        OperationLogChain.objects.filter(pk=1).update(last_sequence=entry.sequence, last_hash=digest)
    if ctx is not None:
        ctx.recorded += 1
        if object_type:
            ctx.logged_objects.add((object_type, object_id))
    return entry


def record_export(*, request: HttpRequest, name: str, fmt: str, rows: int, filters: dict[str, Any]) -> None:
    """Log that a staff member downloaded a spreadsheet of ``name``."""
    record(
        action="kairan.export",
        request=request,
        object_label=name,
        data={
            "format": fmt,
            "rows": rows,
            "filters": filters,
        },
    )


def record_personal_view(
    *, request: HttpRequest, label: str, object_id: str = "", data: dict[str, Any] | None = None
) -> None:
    """Log that a staff member was shown residents' personal data (a resident's page, a list)."""
    record(
        action="kairan.personal.view",
        request=request,
        object_type="residents.personal",
        object_id=object_id,
        object_label=label,
        data=data,
    )


def record_access(*, request: HttpRequest, status: int, started: float, now: float) -> None:
    actor_id, username = _actor(None, request)
    AccessLogEntry.objects.create(
        timestamp=timezone.now(),
        actor_id=actor_id,
        username=_clip(username, 150),
        ip_address=_clip(client_ip(request), 45),
        method=_clip(request.method, 10),
        path=_clip(request.get_full_path(), 500),
        status=status,
        duration_ms=max(0, int((now - started) * 1000)),
    )


def purge_operation_log(*, older_than_days: int | None = None) -> int:
    """Delete operation-log entries past retention, keeping the chain verifiable.

    The hash of the newest purged entry becomes the chain's anchor, so the
    first kept entry still links to something known. Idempotent.
    """
    days = older_than_days if older_than_days is not None else settings.KAIRAN_OPLOG_RETENTION_DAYS
    cutoff = timezone.now() - timedelta(days=days)
    with transaction.atomic():
        head = locked_head()
        last_expired = (
            OperationLogEntry.objects.filter(timestamp__lt=cutoff, sequence__lt=head.last_sequence)
            .order_by("-sequence")
            .values("sequence", "hash")
            .first()
        )
        if last_expired is None:
            return 0
        deleted, _ = OperationLogEntry.objects.filter(sequence__lte=last_expired["sequence"]).delete()
        OperationLogChain.objects.filter(pk=1).update(
            anchor_sequence=last_expired["sequence"], anchor_hash=last_expired["hash"]
        )
    record(
        action="kairan.oplog.purged",
        object_label="操作ログ",
        data={"deleted": deleted, "through_sequence": last_expired["sequence"], "retention_days": days},
    )
    return deleted


def purge_access_log(*, older_than_days: int | None = None, batch: int = 5000) -> int:
    days = older_than_days if older_than_days is not None else settings.KAIRAN_ACCESS_LOG_RETENTION_DAYS
    cutoff = timezone.now() - timedelta(days=days)
    total = 0
    while True:
        ids = list(AccessLogEntry.objects.filter(timestamp__lt=cutoff).values_list("pk", flat=True)[:batch])
        if not ids:
            break
        total += AccessLogEntry.objects.filter(pk__in=ids).delete()[0]
    if total:
        record(
            action="kairan.oplog.purged",
            object_label="アクセスログ",
            data={"deleted": total, "retention_days": days},
        )
    return total


def verify_and_remember() -> Verification:
    """Verify the chain and keep the result for the report screen."""
    result = verify_chain()
    OperationLogChain.objects.filter(pk=1).update(
        verified_at=timezone.now(), verified_ok=result.ok, verified_message=result.describe()
    )
    return result
