"""Write operations of 配信: scheduling on approval, cancel, stop, test sends, testers.

Publishing a delivery's approved revision schedules it (``schedule_published``): one
``DeliveryRun`` for "now" or "at", the next occurrence for a recurring series (each occurrence
creates the one after it when it starts). The fan-out itself is in ``deliveries.fanout``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from deliveries import audience
from deliveries.models import Delivery, DeliveryRun, DeliverySettings, Tester, Timing
from deliveries.recurrence import next_occurrence
from deliveries.recurrence import validate as validate_recurrence
from line_channel import outbox
from line_channel.models import Follower

Kind = DeliveryRun.Kind
State = DeliveryRun.State

STOP_REASON = "配信が停止されたため送信しませんでした。"


class DeliveryError(ValueError):
    """An operation staff asked for that cannot be done; the message is Japanese."""


def staff_name(user: Any) -> str:
    if user is None:
        return ""
    full = (user.get_full_name() or "").strip() if hasattr(user, "get_full_name") else ""
    return full or str(user.get_username())


# --- reading -------------------------------------------------------------------------------------


def friends_count() -> int:
    return Follower.objects.filter(status=Follower.Status.FOLLOWING).count()


def audience_count(delivery: Delivery) -> int:
    """How many friends the delivery would reach now."""
    definition = delivery.segment_definition()
    return friends_count() if definition is None else audience.count(definition)


def requires_approval(delivery: Delivery, *, count: int | None = None) -> bool:
    rules = DeliverySettings.load()
    return rules.requires_approval(
        audience=delivery.audience,
        count=audience_count(delivery) if count is None else count,
        recurring=delivery.timing == Timing.RECURRING,
    )


def testers() -> list[Tester]:
    return list(Tester.objects.select_related("follower").order_by("label"))


# --- scheduling ----------------------------------------------------------------------------------


def _snapshot(delivery: Delivery, *, approver: str, requested_by: Any) -> dict[str, Any]:
    from deliveries.line_messages import to_line_messages

    messages = to_line_messages(delivery.messages)
    return {
        "title": delivery.title,
        "category": delivery.category,
        "department": delivery.department.name if delivery.department_id and delivery.department else "",
        "messages": messages,
        "message_count": len(messages),
        "notification_disabled": delivery.notification_disabled,
        "audience": delivery.audience,
        "segment_name": delivery.segment.name if delivery.segment_id and delivery.segment else "",
        "author": staff_name(delivery.created_by),
        "approver": approver,
        "requested_by": requested_by,
    }


def _first_time(delivery: Delivery, now: datetime) -> tuple[str, datetime | None]:
    if delivery.timing == Timing.NOW:
        return Kind.NOW, now
    if delivery.timing == Timing.AT:
        return Kind.AT, max(delivery.send_at or now, now)
    rule = validate_recurrence(delivery.recurrence_dict())
    return Kind.RECURRING, next_occurrence(rule, after=now)


def approver_of(delivery: Delivery, revision: Any) -> Any:
    """Who approved ``revision``: the last approver in its workflow, else whoever published it."""
    from wagtail.models import TaskState

    state = (
        TaskState.objects.filter(revision_id=revision.pk, status=TaskState.STATUS_APPROVED)
        .exclude(finished_by=None)
        .select_related("finished_by")
        .order_by("-finished_at")
        .first()
    )
    return state.finished_by if state is not None else revision.user


@transaction.atomic
def schedule_published(*, delivery: Delivery, revision: Any) -> DeliveryRun | None:
    """The delivery's revision was published (approved): replace its pending schedule with one
    for this revision. Returns the run created (None when a series has no occurrence left)."""
    now = timezone.now()
    DeliveryRun.objects.filter(delivery=delivery, state=State.SCHEDULED).exclude(kind=Kind.TEST).delete()
    kind, when = _first_time(delivery, now)
    if when is None:
        return None
    approver = approver_of(delivery, revision)
    run = DeliveryRun.objects.create(
        delivery=delivery,
        revision=revision,
        kind=kind,
        scheduled_for=when,
        **_snapshot(delivery, approver=staff_name(approver), requested_by=approver),
    )
    _wake_dispatcher_on_commit()
    return run


def schedule_next_occurrence(run: DeliveryRun) -> DeliveryRun | None:
    """A recurring run started (or was skipped): create the series' next occurrence, once."""
    delivery = run.delivery
    if run.kind != Kind.RECURRING or delivery is None or not delivery.live:
        return None
    # The approved (live) revision, not a draft being edited since.
    live = delivery.live_revision.as_object() if delivery.live_revision is not None else delivery
    assert isinstance(live, Delivery)
    # After this occurrence, and never in the past: a cluster that was down for days sends the
    # missed occurrence once (this run), not each of them in a row.
    when = next_occurrence(
        validate_recurrence(live.recurrence_dict()), after=max(run.scheduled_for, timezone.now())
    )
    if when is None:
        return None
    try:
        with transaction.atomic():
            return DeliveryRun.objects.create(
                delivery=delivery,
                revision=delivery.live_revision,
                kind=Kind.RECURRING,
                scheduled_for=when,
                **_snapshot(
                    live,
                    approver=run.approver,
                    requested_by=run.requested_by,
                ),
            )
    except IntegrityError:
        return (
            DeliveryRun.objects.filter(delivery=delivery, scheduled_for=when).exclude(kind=Kind.TEST).first()
        )


def _wake_dispatcher_on_commit() -> None:
    from deliveries.tasks import dispatch_due

    transaction.on_commit(dispatch_due, robust=True)


# --- cancel, stop ----------------------------------------------------------------------------------


def cancel_run(*, run: DeliveryRun, user: Any) -> DeliveryRun:
    """取消: a scheduled run that has not started will not be sent (a series goes on)."""
    updated = DeliveryRun.objects.filter(pk=run.pk, state=State.SCHEDULED).update(
        state=State.CANCELLED, cancelled_by=staff_name(user), finished_at=timezone.now()
    )
    if not updated:
        raise DeliveryError("この配信はすでに始まっているか終わっているため、取り消せません。")
    run.refresh_from_db()
    schedule_next_occurrence(run)
    return run


def cancel_delivery(*, delivery: Delivery, user: Any) -> int:
    """Unpublished (or withdrawn): every scheduled run of it is cancelled; returns how many."""
    return DeliveryRun.objects.filter(delivery=delivery, state=State.SCHEDULED).update(
        state=State.CANCELLED, cancelled_by=staff_name(user), finished_at=timezone.now()
    )


def stop_run(*, run: DeliveryRun, user: Any) -> DeliveryRun:
    """停止: a run that is sending stops; chunks no sender has taken are not sent."""
    updated = DeliveryRun.objects.filter(pk=run.pk, state=State.SENDING).update(
        state=State.STOPPED, cancelled_by=staff_name(user)
    )
    if not updated:
        raise DeliveryError("この配信は送信中ではないため、停止できません。")
    outbox.cancel_queued(purpose=run.purpose, reason=STOP_REASON)
    run.refresh_from_db()
    return run


# --- tests and testers -----------------------------------------------------------------------------


def send_test(*, delivery: Delivery, user: Any) -> DeliveryRun:
    """テスト配信: the delivery's latest draft, now, to the testers only; listed as テスト."""
    from deliveries.line_messages import to_line_messages

    draft = delivery.get_latest_revision_as_object()
    assert isinstance(draft, Delivery)
    ids = Tester.line_user_ids()
    if not ids:
        raise DeliveryError(
            "テスターがいません。「配信 → テスター」で、職員の LINE アカウントを登録してください。"
        )
    messages = to_line_messages(draft.messages)
    run = DeliveryRun.objects.create(
        delivery=delivery,
        revision=delivery.get_latest_revision(),
        kind=Kind.TEST,
        scheduled_for=timezone.now(),
        title=draft.title,
        category=draft.category,
        department=draft.department.name if draft.department_id and draft.department else "",
        messages=messages,
        message_count=len(messages),
        notification_disabled=draft.notification_disabled,
        audience=draft.audience,
        segment_text="テスター",
        author=staff_name(user),
        requested_by=user,
        target_count=len(ids),
    )
    _wake_dispatcher_on_commit()
    return run


def add_tester(*, number: str, label: str, user: Any) -> Tester:
    """Make the friend with this お問い合わせ番号 (or LINE user id) a tester."""
    from residents.records import hash_for_number

    number = number.strip()
    follower = Follower.objects.filter(line_user_id=number).first() if number else None
    if follower is None and number:
        found = hash_for_number(number)
        follower = Follower.objects.filter(line_user_hash=found).first() if found else None
    if follower is None:
        raise DeliveryError(
            "その番号の友だちが見つかりません。マイページに表示される「お問い合わせ番号」を入力してください。"
        )
    if follower.status != Follower.Status.FOLLOWING:
        raise DeliveryError("この友だちはアカウントをブロックしているため、テスターにできません。")
    tester, _created = Tester.objects.update_or_create(
        follower=follower, defaults={"label": label.strip() or "テスター", "added_by": staff_name(user)}
    )
    return tester


def remove_tester(*, tester: Tester) -> None:
    tester.delete()


def pending_runs(delivery: Delivery) -> Any:
    return DeliveryRun.objects.filter(Q(delivery=delivery), Q(state__in=[State.SCHEDULED, State.SENDING]))


def is_sent_once(delivery: Delivery) -> bool:
    """A one-off delivery that has started sending cannot be sent again (a series can be edited)."""
    if delivery.pk is None or delivery.timing == Timing.RECURRING:
        return False
    return (
        DeliveryRun.objects.filter(delivery=delivery)
        .exclude(kind=Kind.TEST)
        .exclude(started_at=None)
        .exists()
    )
