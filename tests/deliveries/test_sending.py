"""Sending deliveries through the real path: approval (Wagtail's workflow and publish), the run it
schedules, the fan-out into the outbox, the outbox senders against the LINE emulator, the
outcome in the history; test sends, stop, cancel, crash resume, recurring series."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from deliveries import fanout, services, tasks
from deliveries.models import Audience, Delivery, DeliveryRun, Timing
from deliveries.models import Tester as TesterModel
from emulator.client import EmulatorControl
from kairan.staff.roles import APPROVER, EDITOR
from line_channel import followers, tasks_outbox
from line_channel.models import OutboxItem
from residents.models import AttributeFormPage
from tests.deliveries.test_audience import BEAR_ALERT, KUMA, MASSAKI, MORI, OFUNATO, resident

pytestmark = pytest.mark.django_db
State = DeliveryRun.State
CARD = {
    "image": None,
    "title": "クマの出没情報",
    "body": "盛町でクマが目撃されました。",
    "buttons": [
        {"label": "詳しく", "action": "url", "url": "https://www.city.ofunato.iwate.jp/", "page": None}
    ],
}


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[timedelta], None]:
    """Move Kairan's clock forward (the emulator keeps its own)."""
    real = timezone.now
    offset = [timedelta()]
    monkeypatch.setattr(timezone, "now", lambda: real() + offset[0])

    def advance(by: timedelta) -> None:
        offset[0] += by

    return advance


def friends(emu: EmulatorControl, count: int) -> list[str]:
    ids: list[str] = []
    while len(ids) < count:
        ids += emu.create_followers(min(1000, count - len(ids)))
    for user_id in ids:
        followers.record_follow(line_user_id=user_id, at=timezone.now(), event_id=f"f-{user_id}")
    return ids


def make_delivery(author: Any, **fields: Any) -> Delivery:
    values: dict[str, Any] = {
        "title": "クマ出没のお知らせ",
        "messages": [("text", "クマに注意してください。"), ("card", CARD)],
        "audience": Audience.CUSTOM,
        "conditions": BEAR_ALERT,
        "timing": Timing.AT,
        "send_at": timezone.now() + timedelta(hours=1),
        "created_by": author,
        "live": False,
    }
    values.update(fields)
    delivery = Delivery(**values)
    delivery.full_clean()
    delivery.save()
    return delivery


def publish(delivery: Delivery, user: Any) -> DeliveryRun:
    revision = delivery.save_revision(user=user)
    revision.publish(user=user)
    return DeliveryRun.objects.filter(delivery=delivery).exclude(kind="test").latest("pk")


def send_everything(run: DeliveryRun) -> DeliveryRun:
    """What the cluster does once the time has come: start, send through the outbox, finish."""
    tasks.start_run(run.pk)
    tasks_outbox.pump(threads=1, seconds=20)
    tasks.finish_runs()
    run.refresh_from_db()
    return run


@pytest.fixture
def town(attribute_page: AttributeFormPage, line_channel: Any, emu: EmulatorControl) -> dict[str, str]:
    """Six LINE friends of the emulator's channel with 受信設定; two match BEAR_ALERT."""
    ids = emu.create_followers(6)
    names = ["home", "work", "young", "nobear", "elsewhere", "blocked"]
    users = dict(zip(names, ids, strict=True))
    resident(attribute_page, users["home"], home=MORI, born=1950, topics=[KUMA])
    resident(attribute_page, users["work"], home=MASSAKI, work=["c4-0"], born=1960, topics=[KUMA])
    resident(attribute_page, users["young"], home=MORI, born=2000, topics=[KUMA])
    resident(attribute_page, users["nobear"], home=MORI, born=1950, topics=["c5-0"])
    resident(attribute_page, users["elsewhere"], home=OFUNATO, born=1950, topics=[KUMA])
    resident(attribute_page, users["blocked"], home=MORI, born=1950, topics=[KUMA])
    followers.record_unfollow(line_user_id=users["blocked"], at=timezone.now(), event_id="unfollow-b")
    from residents.services import sync_reachability

    sync_reachability(line_user_id=users["blocked"])
    return users


def test_an_approved_scheduled_delivery_reaches_exactly_the_segment_once(
    town: dict[str, str], emu: EmulatorControl, make_staff: Callable[..., Any], clock: Any
) -> None:
    author, approver = make_staff("tanto", EDITOR), make_staff("shonin", APPROVER)
    delivery = make_delivery(author)
    run = publish(delivery, approver)
    assert (run.kind, run.state, run.approver, run.author) == ("at", State.SCHEDULED, "shonin", "tanto")
    assert run.messages[0] == {"type": "text", "text": "クマに注意してください。"}
    assert run.messages[1]["type"] == "flex"

    assert fanout.start(run.pk) == "not claimable"  # not yet its time
    assert tasks.dispatch_due() == 0
    clock(timedelta(hours=1, seconds=1))
    assert fanout.due_run_ids() == [run.pk]
    run = send_everything(run)
    assert (run.state, run.error) == (State.DONE, "")
    per_user = emu.deliveries()["perUser"]
    # (the emulator counts message objects: two per recipient, text and card)
    assert {user: per_user.get(user, 0) for user in town.values()} == {
        town["home"]: 2,
        town["work"]: 2,
        town["young"]: 0,
        town["nobear"]: 0,
        town["elsewhere"]: 0,
        town["blocked"]: 0,
    }
    assert (run.state, run.target_count, run.sent_count, run.failed_count) == (State.DONE, 2, 2, 0)
    assert run.chunks_total == 1 and run.materialised and run.started_at and run.finished_at
    assert "年齢が60歳以上" in run.segment_text
    # Run again (Django-Q may repeat a task): nothing more is sent.
    tasks.start_run(run.pk)
    tasks_outbox.pump(threads=1, seconds=2)
    assert emu.deliveries()["perUser"].get(town["home"]) == 2


def test_a_test_send_reaches_testers_only_and_is_listed_as_a_test(
    town: dict[str, str], emu: EmulatorControl, make_staff: Callable[..., Any]
) -> None:
    author = make_staff("tanto", EDITOR)
    delivery = make_delivery(author)
    delivery.save_revision(user=author)
    with pytest.raises(services.DeliveryError, match="テスターがいません"):
        services.send_test(delivery=delivery, user=author)
    from line_channel.models import Follower

    TesterModel.objects.create(
        follower=Follower.objects.get(line_user_id=town["young"]), label="防災課 大船渡"
    )
    run = services.send_test(delivery=delivery, user=author)
    run = send_everything(run)
    per_user = emu.deliveries()["perUser"]
    assert per_user == {town["young"]: 2}
    assert (run.kind, run.state, run.sent_count) == ("test", State.DONE, 1)
    assert not delivery.live  # a test changes nothing about the delivery
    client = Client()
    client.force_login(author)
    page = client.get(f"/admin/deliveries/history/{run.pk}/").content.decode()
    assert "防災課 大船渡" in page and "送信済み" in page


def test_a_crashed_fan_out_resumes_after_its_cursor_and_sends_each_friend_once(
    line_channel: Any, emu: EmulatorControl, make_staff: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    friends(emu, 1203)
    approver = make_staff("shonin", APPROVER)
    run = publish(make_delivery(approver, audience=Audience.ALL, conditions={}, timing=Timing.NOW), approver)
    monkeypatch.setattr(fanout, "BATCH_CHUNKS", 1)
    real = fanout.outbox.add_multicast_chunks
    calls = []

    def dies_on_the_second_batch(**kwargs: Any) -> int:
        calls.append(1)
        if len(calls) == 2:
            raise SystemExit("worker killed")
        return real(**kwargs)

    monkeypatch.setattr(fanout.outbox, "add_multicast_chunks", dies_on_the_second_batch)
    with pytest.raises(SystemExit):
        fanout.start(run.pk)
    run.refresh_from_db()
    assert (run.state, run.chunks_total, run.recipients_total, run.materialised) == (
        State.SENDING,
        1,
        500,
        False,
    )
    assert fanout.start(run.pk) == "not claimable"  # its worker may still be alive
    DeliveryRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=5))
    run = send_everything(run)
    per_user = emu.deliveries()["perUser"]
    assert len(per_user) == 1203 and set(per_user.values()) == {2}
    assert (run.state, run.chunks_total, run.sent_count, run.target_count) == (State.DONE, 3, 1203, 1203)


def test_stop_during_sending_leaves_the_remaining_chunks_unsent(
    line_channel: Any, emu: EmulatorControl, make_staff: Callable[..., Any]
) -> None:
    friends(emu, 1100)
    approver = make_staff("shonin", APPROVER)
    run = publish(make_delivery(approver, audience=Audience.ALL, conditions={}, timing=Timing.NOW), approver)
    fanout.start(run.pk)  # three chunks queued, none sent yet
    item = OutboxItem.objects.filter(purpose=run.purpose).order_by("pk").first()
    assert item is not None
    from line_channel import outbox

    claimed = outbox.claim(item.pk)
    assert claimed is not None  # one chunk is with a sender when staff press 停止
    services.stop_run(run=run, user=approver)
    with pytest.raises(services.DeliveryError):
        services.cancel_run(run=run, user=approver)
    from line_channel.gateway import Gateway

    with Gateway.from_settings() as gateway:
        outbox.send_claimed(claimed, gateway=gateway)
    tasks_outbox.pump(threads=1, seconds=2)
    tasks.finish_runs()
    run.refresh_from_db()
    assert len(emu.deliveries()["perUser"]) == 500
    assert (run.state, run.sent_count, run.failed_count, run.cancelled_by) == (
        State.STOPPED,
        500,
        600,
        "shonin",
    )


def test_cancel_before_the_time_and_unpublish_cancel_scheduled_runs(
    town: dict[str, str], emu: EmulatorControl, make_staff: Callable[..., Any]
) -> None:
    approver = make_staff("shonin", APPROVER)
    delivery = make_delivery(approver)
    run = publish(delivery, approver)
    services.cancel_run(run=run, user=approver)
    run.refresh_from_db()
    assert (run.state, run.cancelled_by) == (State.CANCELLED, "shonin")
    DeliveryRun.objects.filter(pk=run.pk).update(scheduled_for=timezone.now() - timedelta(seconds=1))
    assert fanout.start(run.pk) == "not claimable"
    second = publish(Delivery.objects.get(pk=delivery.pk), approver)
    delivery.refresh_from_db()
    delivery.unpublish(user=approver)
    second.refresh_from_db()
    assert second.state == State.CANCELLED
    assert emu.deliveries()["perUser"] == {}


def test_a_recurring_series_creates_each_occurrence_when_the_previous_one_starts(
    town: dict[str, str], emu: EmulatorControl, make_staff: Callable[..., Any], clock: Any
) -> None:
    approver = make_staff("shonin", APPROVER)
    today = timezone.localdate()
    delivery = make_delivery(
        approver,
        timing=Timing.RECURRING,
        repeat_frequency="daily",
        repeat_time=(timezone.localtime() + timedelta(minutes=5)).time().replace(second=0, microsecond=0),
        repeat_start=today,
        repeat_end=today + timedelta(days=10),
        send_at=None,
    )
    first = publish(delivery, approver)
    assert first.kind == "recurring" and first.scheduled_for > timezone.now()
    clock(timedelta(minutes=6))
    first = send_everything(first)
    assert first.state == State.DONE and first.sent_count == 2
    runs = list(DeliveryRun.objects.filter(delivery=delivery).order_by("scheduled_for"))
    assert len(runs) == 2 and runs[1].state == State.SCHEDULED
    assert runs[1].scheduled_for - first.scheduled_for > timedelta(hours=23)


def test_approval_rules_need_a_second_person_for_large_or_all_friends_deliveries(
    town: dict[str, str], make_staff: Callable[..., Any]
) -> None:
    author = make_staff("tanto", EDITOR)
    small = make_delivery(author)
    assert not services.requires_approval(small)  # two friends
    everyone = make_delivery(author, audience=Audience.ALL, conditions={})
    assert services.requires_approval(everyone)
    from deliveries.models import DeliverySettings

    rules = DeliverySettings.load()
    rules.approval_threshold = 1
    rules.save()
    assert services.requires_approval(small)

    # The author submits it to the 配信の承認 workflow; they cannot approve it themselves.
    small.save_revision(user=author)
    workflow = small.get_workflow()
    assert workflow is not None and workflow.name == "配信の承認"
    workflow.start(small, author)
    task = small.current_workflow_task
    assert task.get_actions(small, author) == []
    approver = make_staff("shonin", APPROVER)
    assert {name for name, _label, _modal in task.get_actions(small, approver)} == {"reject", "approve"}
    task.on_action(small.current_workflow_task_state, approver, "approve")
    small.refresh_from_db()
    assert small.live
    run = DeliveryRun.objects.get(delivery=small)
    assert (run.approver, run.author, run.state) == ("shonin", "tanto", State.SCHEDULED)


def test_the_editor_cannot_publish_a_delivery_that_needs_approval(
    town: dict[str, str], make_staff: Callable[..., Any]
) -> None:
    author = make_staff("tanto", EDITOR)
    everyone = make_delivery(author, audience=Audience.ALL, conditions={})
    client = Client()
    client.force_login(author)
    edit = f"/admin/snippets/deliveries/delivery/edit/{everyone.pk}/"
    form = client.get(edit)
    assert form.status_code == 200
    text = form.content.decode()
    assert "配信の概要" in text and "承認を依頼" in text, text[-3000:]
    data = {
        "title": everyone.title,
        "category": "disaster",
        "department": "",
        "messages-count": "1",
        "messages-0-type": "text",
        "messages-0-value": "全員へのお知らせ",
        "messages-0-order": "0",
        "messages-0-deleted": "",
        "messages-0-id": "a1",
        "audience": "all",
        "segment": "",
        "conditions": '{"op": "and", "items": []}',
        "timing": "now",
        "send_at": "",
        "repeat_frequency": "weekly",
        "action-publish": "action-publish",
    }
    response = client.post(edit, data)
    assert response.status_code == 302
    everyone.refresh_from_db()
    assert not everyone.live and not DeliveryRun.objects.filter(delivery=everyone).exists()
    assert everyone.get_latest_revision_as_object().messages[0].value == "全員へのお知らせ"


def test_history_lists_totals_and_exports_csv_and_the_dashboard_shows_upcoming_sends(
    town: dict[str, str], emu: EmulatorControl, make_staff: Callable[..., Any], clock: Any
) -> None:
    approver = make_staff("shonin", APPROVER)
    done = publish(make_delivery(approver, title="済んだ配信", timing=Timing.NOW), approver)
    send_everything(done)
    publish(make_delivery(approver, title="明日の配信"), approver)
    client = Client()
    client.force_login(approver)
    dashboard = client.get("/admin/").content.decode()
    assert "明日の配信" in dashboard and "済んだ配信" in dashboard
    listing = client.get("/admin/deliveries/history/").content.decode()
    assert "済んだ配信" in listing and "明日の配信" in listing and "月別" in listing and "部署別" in listing
    response = client.get("/admin/deliveries/history/", {"export": "csv", "encoding": "utf-8"})
    body = b"".join(response.streaming_content).decode("utf-8")  # type: ignore[attr-defined]
    assert body.startswith("\ufeff")
    row = next(line for line in body.splitlines() if "済んだ配信" in line)
    assert ",配信完了," in row and ",2,2,0," in row and "shonin" in row
    assert town["home"] not in body  # no LINE user ids in the export
    progress = client.get(f"/admin/deliveries/history/{done.pk}/progress/").json()
    assert progress["chunks_total"] == progress["chunks_done"] == 1 and progress["sent"] == 2


def test_a_repeated_start_task_does_not_close_a_run_that_is_still_being_queued(
    line_channel: Any, emu: EmulatorControl, make_staff: Callable[..., Any]
) -> None:
    friends(emu, 1500)
    approver = make_staff("shonin", APPROVER)
    run = publish(make_delivery(approver, audience=Audience.ALL, conditions={}, timing=Timing.NOW), approver)
    fanout.claim(run.pk)  # a first worker claimed it and has queued nothing yet
    assert tasks.start_run(run.pk) == "not claimable"  # Django-Q ran the task again
    run.refresh_from_db()
    assert (run.state, run.finished_at) == (State.SENDING, None)
