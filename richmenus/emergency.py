"""災害モード: every friend sees the emergency menu set, and the revert restores what they saw.

LINE shows a friend their per-user menu if they have one (a tab switch makes one), else the
default. Changing the default alone would miss every friend who ever switched a tab, so the
switch, for each menu a friend could be on (the live tabs of every other set), makes a copy of
the emergency set's first tab and moves that menu's friends to its own copy with one batch-control
request; the default moves to the copy of the old default. The revert moves each copy's friends
back to the menu they came from, restores the default and deletes the copies: per-user links come
back exactly. (A friend who switches tabs inside the emergency set is linked to that tab's menu,
shared by everyone; the revert unlinks them, so they see the default menu again.)

A rehearsal (訓練) does the same for the testers only, one per-user link each.

``switch_on`` / ``switch_off`` record the decision (operation log) and queue ``apply`` /
``revert`` in Django-Q; both are idempotent steps recorded on the ``EmergencySwitch``, resumed by
the minute tick when LINE's batch is still running.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django_q.tasks import async_task

from kairan.oplog.services import record
from line_channel import outbox
from line_channel.gateway import Gateway
from richmenus.line_menus import line_tabs, remembered_image
from richmenus.models import EmergencySettings, EmergencySwitch, MenuSet, PublishedMenu

log = logging.getLogger(__name__)
State = EmergencySwitch.State
NO_DEFAULT = "none"  # previous_default when the friends had no default menu
POLL_DELAYS = (0.5, 1, 2, 4, 8)  # seconds between progress checks in one task (LINE: 100 an hour)


class EmergencyError(ValueError):
    """Why the emergency mode cannot be switched (Japanese, for staff)."""


def active(*, rehearsal: bool = False) -> EmergencySwitch | None:
    return EmergencySwitch.objects.filter(state__in=EmergencySwitch.ACTIVE, rehearsal=rehearsal).first()


def deliveries_paused() -> bool:
    """Whether non-urgent scheduled deliveries wait (a real emergency mode that pauses them)."""
    return EmergencySwitch.objects.filter(
        state__in=EmergencySwitch.ACTIVE, rehearsal=False, pause_deliveries=True
    ).exists()


def ready_sets() -> list[MenuSet]:
    """Emergency sets that are published to LINE (the ones that can be switched to)."""
    live = PublishedMenu.objects.filter(state=PublishedMenu.State.LIVE).values("menu_set_id")
    return list(MenuSet.objects.filter(purpose=MenuSet.Purpose.EMERGENCY, live=True, pk__in=live))


def _check(menu_set: MenuSet, alert: str) -> str:
    if menu_set.purpose != MenuSet.Purpose.EMERGENCY:
        raise EmergencyError("災害時のメニューセットを選んでください。")
    if menu_set not in ready_sets():
        raise EmergencyError(
            f"「{menu_set.name}」はまだ LINE に公開されていません。先に承認を受けて公開してください。"
        )
    alert = alert.strip()
    if len(alert) > 5000:
        raise EmergencyError("お知らせは5000文字までです。")
    return alert


def switch_on(
    *,
    menu_set: MenuSet,
    user: Any,
    rehearsal: bool = False,
    pause_deliveries: bool = True,
    alert: str = "",
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
) -> EmergencySwitch:
    """Start 災害モード (or its rehearsal) with ``menu_set`` now, or at ``starts_at``; revert by
    hand or at ``ends_at``. The LINE work runs in Django-Q."""
    alert = _check(menu_set, alert)
    second_person = not rehearsal and EmergencySettings.load().second_person
    if second_person and EmergencySwitch.objects.filter(state=State.REQUESTED).exists():
        raise EmergencyError("承認を待っている切替があります。承認か取り下げを先にしてください。")
    now = timezone.now()
    later = starts_at is not None and starts_at > now
    if ends_at is not None and ends_at <= (starts_at if later and starts_at else now):
        raise EmergencyError("終了日時は開始日時より後にしてください。")
    if later and EmergencySwitch.objects.filter(state=State.SCHEDULED, rehearsal=rehearsal).exists():
        raise EmergencyError("予約済みの切替があります。取り消してから予約してください。")
    try:
        with transaction.atomic():
            switch = EmergencySwitch.objects.create(
                menu_set=menu_set,
                rehearsal=rehearsal,
                pause_deliveries=pause_deliveries and not rehearsal,
                alert=alert,
                started_by=_name(user),
                requested_by=user if getattr(user, "pk", None) else None,
                state=State.REQUESTED if second_person else State.SCHEDULED if later else State.SWITCHING,
                starts_at=starts_at if later else None,
                ends_at=ends_at,
                progress=f"{timezone.localtime(starts_at):%Y-%m-%d %H:%M} に切り替えます"
                if later and starts_at
                else "",
            )
    except IntegrityError:
        raise EmergencyError("すでに切り替えています。解除してから切り替えてください。") from None
    record(action="kairan.emergency.on", user=user, instance=switch, data=_summary(switch))
    if not later and not second_person:
        _begin(switch)
    return switch


def approve(*, user: Any) -> EmergencySwitch:
    """A second person approves the requested switch: it starts (or waits for its 開始日時)."""
    switch = EmergencySwitch.objects.filter(state=State.REQUESTED).first()
    if switch is None:
        raise EmergencyError("承認を待っている切替はありません。")
    if switch.requested_by_id is not None and switch.requested_by_id == getattr(user, "pk", None):
        raise EmergencyError("切り替えを求めた職員とは別の職員が承認してください。")
    later = switch.starts_at is not None and switch.starts_at > timezone.now()
    try:
        with transaction.atomic():
            EmergencySwitch.objects.filter(pk=switch.pk, state=State.REQUESTED).update(
                state=State.SCHEDULED if later else State.SWITCHING,
                approved_by=_name(user),
                started_at=timezone.now(),
                progress="承認されました",
            )
    except IntegrityError:
        raise EmergencyError("すでに災害モードに切り替わっています。") from None
    switch.refresh_from_db()
    record(action="kairan.emergency.approved", user=user, instance=switch, data=_summary(switch))
    if not later:
        _begin(switch)
    return switch


def withdraw(*, user: Any) -> bool:
    """Withdraw (or, for another staff member, refuse) a switch waiting for its approval."""
    switch = EmergencySwitch.objects.filter(state=State.REQUESTED).first()
    if switch is None:
        return False
    EmergencySwitch.objects.filter(pk=switch.pk).update(
        state=State.CANCELLED, ended_by=_name(user), ended_at=timezone.now(), progress="取り下げました"
    )
    record(action="kairan.emergency.off", user=user, instance=switch, data={"承認待ちの取り下げ": "はい"})
    return True


def _begin(switch: EmergencySwitch) -> None:
    """The switch starts: the alert goes out, and the LINE work is queued."""
    if switch.alert:
        messages = [{"type": "text", "text": switch.alert}]
        if switch.rehearsal:
            for user_id in _testers():
                outbox.enqueue_push(to=user_id, messages=messages, purpose=f"emergency:{switch.pk}")
        else:
            outbox.enqueue_broadcast(messages=messages, purpose=f"emergency:{switch.pk}")
    transaction.on_commit(lambda: async_task("richmenus.tasks.apply_emergency", switch.pk, group="richmenus"))


def cancel_scheduled(*, user: Any, rehearsal: bool = False) -> bool:
    """Cancel a switch that has not started yet."""
    switch = EmergencySwitch.objects.filter(state=State.SCHEDULED, rehearsal=rehearsal).first()
    if switch is None:
        return False
    EmergencySwitch.objects.filter(pk=switch.pk, state=State.SCHEDULED).update(
        state=State.CANCELLED, ended_by=_name(user), ended_at=timezone.now(), progress="予約を取り消しました"
    )
    record(action="kairan.emergency.off", user=user, instance=switch, data={"予約の取消": "はい"})
    return True


def run_due() -> int:
    """Start scheduled switches whose time came, and revert those whose 終了日時 passed
    (the cluster's ticker, about once a second; two indexed reads when idle)."""
    now = timezone.now()
    done = 0
    for switch in EmergencySwitch.objects.filter(state=State.SCHEDULED, starts_at__lte=now):
        try:
            with transaction.atomic():
                started = EmergencySwitch.objects.filter(pk=switch.pk, state=State.SCHEDULED).update(
                    state=State.SWITCHING, started_at=now, progress="予約の時刻になりました"
                )
        except IntegrityError:  # a switch made by hand is already on
            EmergencySwitch.objects.filter(pk=switch.pk).update(
                state=State.FAILED, error="予約の時刻に、すでに災害モードに切り替わっていました。"
            )
            continue
        if started:
            _begin(switch)
            done += 1
    for switch in EmergencySwitch.objects.filter(state=State.ON, ends_at__lte=now):
        switch_off(user=None, rehearsal=switch.rehearsal, reason="終了日時になりました")
        done += 1
    return done


def switch_off(*, user: Any, rehearsal: bool = False, reason: str = "") -> EmergencySwitch:
    """End 災害モード (or its rehearsal): the LINE work runs in Django-Q."""
    switch = active(rehearsal=rehearsal)
    if switch is None:
        raise EmergencyError("災害モードではありません。")
    if switch.state == State.REVERTING:
        return switch
    EmergencySwitch.objects.filter(pk=switch.pk).update(
        state=State.REVERTING,
        ended_by=_name(user) or f"自動（{reason}）",
        progress=reason or "解除を始めました",
        batch_request_id="",
    )
    switch.refresh_from_db()
    record(action="kairan.emergency.off", user=user, instance=switch, data=_summary(switch))
    transaction.on_commit(
        lambda: async_task("richmenus.tasks.revert_emergency", switch.pk, group="richmenus")
    )
    return switch


# --- the LINE work ---------------------------------------------------------------------------------


def apply(switch_id: int) -> str:
    switch = EmergencySwitch.objects.get(pk=switch_id)
    if switch.state != State.SWITCHING:
        return f"nothing to do ({switch.state})"
    emergency = _live_menus(switch.menu_set)
    with Gateway.from_settings() as gateway:
        if switch.rehearsal:
            for user_id in _testers():
                if user_id not in switch.testers:
                    switch.testers[user_id] = gateway.get_user_rich_menu(user_id=user_id) or ""
                    _save(
                        switch, "testers", progress=f"テスター {len(switch.testers)} 人の元のメニューを記録"
                    )
                gateway.link_rich_menu(user_id=user_id, rich_menu_id=emergency[1])
            return _finish(
                switch, State.ON, f"テスター {len(switch.testers)} 人に災害時のメニューを表示しました"
            )
        live_revision = switch.menu_set.live_revision.as_object()
        first = line_tabs(live_revision, images=False)[0]
        image = remembered_image(emergency[1])
        if image is None:  # (not drawn by this server's publish: draw it now)
            image = (line_tabs(live_revision)[0].image, "image/png")
        done = {copy["from"] for copy in switch.copies}
        for source in _sources(switch.menu_set):
            if source in done:
                continue
            copy_id = gateway.create_rich_menu(menu=first.menu)
            gateway.upload_rich_menu_image(rich_menu_id=copy_id, content=image[0], content_type=image[1])
            switch.copies.append({"from": source, "to": copy_id})
            _save(switch, "copies", progress=f"災害時のメニューを {len(switch.copies)} 個用意しました")
        if not switch.previous_default:
            switch.previous_default = gateway.get_default_rich_menu() or NO_DEFAULT
            _save(switch, "previous_default")
        copy_of = {copy["from"]: copy["to"] for copy in switch.copies}
        gateway.set_default_rich_menu(rich_menu_id=copy_of.get(switch.previous_default, emergency[1]))
        operations = [{"type": "link", "from": c["from"], "to": c["to"]} for c in switch.copies]
        if operations and not _batch(gateway, switch, operations):
            return "waiting for LINE's batch"
    return _finish(switch, State.ON, "友だち全員に災害時のメニューを表示しています")


def revert(switch_id: int) -> str:
    switch = EmergencySwitch.objects.get(pk=switch_id)
    if switch.state != State.REVERTING:
        return f"nothing to do ({switch.state})"
    with Gateway.from_settings() as gateway:
        if switch.rehearsal:
            for user_id, previous in switch.testers.items():
                if previous:
                    gateway.link_rich_menu(user_id=user_id, rich_menu_id=previous)
                else:
                    gateway.unlink_rich_menu(user_id=user_id)
            return _finish(switch, State.OFF, "テスターのメニューを元に戻しました")
        if switch.previous_default == NO_DEFAULT:
            gateway.cancel_default_rich_menu()
        elif switch.previous_default:
            gateway.set_default_rich_menu(rich_menu_id=_current(switch.previous_default))
        operations = [{"type": "link", "from": c["to"], "to": _current(c["from"])} for c in switch.copies]
        operations += [
            {"type": "unlink", "from": menu} for menu in _live_menus(switch.menu_set).values()
        ]  # friends who switched tabs inside the emergency set
        if not _batch(gateway, switch, operations):
            return "waiting for LINE's batch"
        for copy in switch.copies:
            gateway.delete_rich_menu(rich_menu_id=copy["to"])
    return _finish(switch, State.OFF, "元のメニューに戻しました")


def resume() -> list[str]:
    """The minute tick: carry on with a switch or revert whose LINE batch was still running."""
    results = []
    for switch in EmergencySwitch.objects.filter(state__in=(State.SWITCHING, State.REVERTING)):
        results.append(apply(switch.pk) if switch.state == State.SWITCHING else revert(switch.pk))
    return results


# --- helpers -----------------------------------------------------------------------------------------


def _batch(gateway: Gateway, switch: EmergencySwitch, operations: list[dict[str, Any]]) -> bool:
    """Run ``operations`` with batch control once (its request id is kept, so a resumed step
    waits for the same request); True when LINE reports it done."""
    if not switch.batch_request_id:
        switch.batch_request_id = gateway.rich_menu_batch(operations=operations[:1000])
        _save(switch, "batch_request_id", progress="LINE が友だちのメニューを切り替えています")
    for delay in POLL_DELAYS:
        phase = gateway.rich_menu_batch_progress(request_id=switch.batch_request_id).get("phase")
        if phase == "succeeded":
            return True
        if phase == "failed":
            switch.batch_request_id = ""
            _save(switch, "batch_request_id", progress="LINE の一括処理が失敗しました。もう一度試します")
            return False
        time.sleep(delay)
    return False


def _finish(switch: EmergencySwitch, state: str, progress: str) -> str:
    fields: dict[str, Any] = {"state": state, "progress": progress}
    if state == State.OFF:
        fields["ended_at"] = timezone.now()
    EmergencySwitch.objects.filter(pk=switch.pk).update(**fields)
    record(action="kairan.emergency.step", instance=switch, username="Kairan", data={"状態": progress})
    return progress


def _save(switch: EmergencySwitch, field: str, *, progress: str = "") -> None:
    fields = {field: getattr(switch, field)}
    if progress:
        fields["progress"] = progress
    EmergencySwitch.objects.filter(pk=switch.pk).update(**fields)


def _live_menus(menu_set: MenuSet) -> dict[int, str]:
    rows = PublishedMenu.objects.filter(menu_set=menu_set, state=PublishedMenu.State.LIVE)
    return {row.tab: row.rich_menu_id for row in rows.order_by("tab")}


def _sources(emergency: MenuSet) -> list[str]:
    """Every menu a friend may be on now: the live tabs of the other sets."""
    rows = PublishedMenu.objects.filter(state=PublishedMenu.State.LIVE).exclude(menu_set=emergency)
    return list(rows.order_by("pk").values_list("rich_menu_id", flat=True))


def _current(rich_menu_id: str) -> str:
    """The menu to go back to: ``rich_menu_id``, or what replaced it if its set was republished
    during the emergency (the same tab of the set's live revision)."""
    from richmenus.publish import _replacement

    row = PublishedMenu.objects.filter(rich_menu_id=rich_menu_id).first()
    if row is None or row.state == PublishedMenu.State.LIVE:
        return rich_menu_id
    return _replacement(row) or rich_menu_id


def _testers() -> list[str]:
    from deliveries.models import Tester

    return Tester.line_user_ids()


def _name(user: Any) -> str:
    if user is None:
        return ""
    return str(user.get_full_name() or user.get_username())


def _summary(switch: EmergencySwitch) -> dict[str, Any]:
    return {
        "メニューセット": switch.menu_set.name,
        "訓練": "はい" if switch.rehearsal else "いいえ",
        "予約配信を止める": "はい" if switch.pause_deliveries else "いいえ",
        "お知らせ": switch.alert[:200],
    }
