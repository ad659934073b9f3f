"""Signal handlers that feed the operation log.

- Sign-in events (login, logout, failed login, lockout).
- Wagtail's own audit log: every PageLogEntry / ModelLogEntry is mirrored into
  the chain with its action, object and the request's source address.
- Any other model write made during a staff request (a safety net for writes
  Wagtail does not log, e.g. group membership or a third-party screen): it is
  collected on commit and logged at the end of the request unless a more
  specific entry already covered that object.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db import models, transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.http import HttpRequest

from kairan.oplog import context
from kairan.oplog.services import object_type_of, record

# Models whose rows change as a side effect of using the system, not as a
# staff member's decision (sessions, caches, queues, search index, the logs
# themselves, throttling counters, editing-session pings, revisions that
# Wagtail logs through the page or snippet they belong to).
NOT_STAFF_WRITES = {
    "admin",
    "axes",
    "contenttypes",
    "core",
    "django_q",
    "oplog",
    "otp_totp",
    "sessions",
    "wagtailsearch",
    "wagtailcore.revision",
    "wagtailcore.referenceindex",
    "wagtailcore.pagelogentry",
    "wagtailcore.modellogentry",
    "wagtailcore.workflowstate",
    "wagtailcore.taskstate",
    "wagtailcore.pagesubscription",
    "wagtailcore.uploadedfile",
    "wagtailadmin.editingsession",
    "wagtailcore.comment",
    "wagtailcore.commentreply",
    # Bookkeeping of a publish (which Wagtail's audit log records): a form page's field history.
    "home.formfieldhistory",
}


def _ignored(model: type[models.Model]) -> bool:
    meta = model._meta
    return meta.app_label in NOT_STAFF_WRITES or f"{meta.app_label}.{meta.model_name}" in NOT_STAFF_WRITES


def on_logged_in(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    record(action="kairan.login", user=user, request=request, instance=user)


def on_logged_out(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    if user is not None:
        record(action="kairan.logout", user=user, request=request, instance=user)


def on_login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kw: Any
) -> None:
    username = str(credentials.get("username", ""))
    locked = bool(getattr(request, "axes_locked_out", False))
    record(
        action="kairan.login_failed",
        request=request,
        username=username,
        object_label=username,
        data={"locked_out": locked},
    )


def on_locked_out(sender: Any, request: HttpRequest, username: str, ip_address: str, **kwargs: Any) -> None:
    record(action="kairan.locked_out", request=request, username=username or "", object_label=username or "")


def on_wagtail_log_entry(
    sender: type[models.Model], instance: Any, created: bool, raw: bool = False, **kw: Any
) -> None:
    """Mirror one of Wagtail's audit-log entries into the chain."""
    if not created or raw:
        return
    from wagtail.contrib.settings.models import BaseGenericSetting, BaseSiteSetting

    model = instance.content_type.model_class() if instance.content_type_id else None
    object_type = f"{model._meta.app_label}.{model._meta.model_name}" if model else ""
    is_setting = bool(model and issubclass(model, BaseGenericSetting | BaseSiteSetting))
    object_id = str(getattr(instance, "page_id", None) or getattr(instance, "object_id", "") or "")
    data: dict[str, Any] = {"wagtail_log_id": instance.pk, "wagtail_log": sender._meta.model_name}
    if instance.data:
        data["detail"] = instance.data
    if instance.revision_id:
        data["revision"] = instance.revision_id
    record(
        action=instance.action,
        user=instance.user,
        object_type=object_type,
        object_id=object_id,
        object_label=instance.label,
        data=data,
        is_setting=is_setting,
        timestamp=instance.timestamp,
    )


def _collect(kind: str, instance: models.Model) -> None:
    from wagtail.models import Page

    ctx = context.current()
    # Wagtail logs every page action itself (mirrored by on_wagtail_log_entry).
    if ctx is None or _ignored(type(instance)) or isinstance(instance, Page):
        return
    item = (kind, object_type_of(instance), str(instance.pk), str(instance)[:255])
    transaction.on_commit(lambda: ctx.pending_writes.append(item))


def on_save(
    sender: type[models.Model], instance: models.Model, created: bool, raw: bool = False, **kw: Any
) -> None:
    update_fields = kw.get("update_fields")
    if raw or (update_fields and set(update_fields) <= {"last_login"}):
        return
    _collect("create" if created else "update", instance)


def on_delete(sender: type[models.Model], instance: models.Model, **kwargs: Any) -> None:
    _collect("delete", instance)


def on_m2m(sender: Any, instance: models.Model, action: str, **kwargs: Any) -> None:
    if action in ("post_add", "post_remove", "post_clear"):
        _collect("update", instance)


def flush_pending_writes(ctx: context.RequestContext) -> None:
    """Log the request's collected writes that nothing more specific covered."""
    seen: set[tuple[str, str]] = set()
    for kind, object_type, object_id, label in ctx.pending_writes:
        key = (object_type, object_id)
        if key in ctx.logged_objects or key in seen:
            continue
        seen.add(key)
        record(
            action=f"kairan.write.{kind}",
            object_type=object_type,
            object_id=object_id,
            object_label=label,
        )
    ctx.pending_writes.clear()


def connect() -> None:
    from axes.signals import user_locked_out
    from wagtail.models import ModelLogEntry, PageLogEntry

    user_logged_in.connect(on_logged_in, dispatch_uid="kairan.oplog.login")
    user_logged_out.connect(on_logged_out, dispatch_uid="kairan.oplog.logout")
    user_login_failed.connect(on_login_failed, dispatch_uid="kairan.oplog.login_failed")
    user_locked_out.connect(on_locked_out, dispatch_uid="kairan.oplog.locked_out")
    for log_model in (PageLogEntry, ModelLogEntry):
        post_save.connect(
            on_wagtail_log_entry, sender=log_model, dispatch_uid=f"kairan.oplog.{log_model.__name__}"
        )
    post_save.connect(on_save, dispatch_uid="kairan.oplog.save")
    post_delete.connect(on_delete, dispatch_uid="kairan.oplog.delete")
    m2m_changed.connect(on_m2m, dispatch_uid="kairan.oplog.m2m")
