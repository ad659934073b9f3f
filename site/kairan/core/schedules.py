"""Every recurring Django-Q schedule of the product, declared in one place.

``ensure_schedules()`` creates or updates them by name; it is idempotent and
run by ``manage.py prepare`` (``make run`` and the Docker image alike).
"""

from __future__ import annotations

from dataclasses import dataclass

from django_q.models import Schedule


@dataclass(frozen=True)
class ScheduleSpec:
    name: str
    func: str
    schedule_type: str
    minutes: int | None = None
    cron: str | None = None


SCHEDULES: tuple[ScheduleSpec, ...] = (
    ScheduleSpec("kairan.heartbeat", "kairan.core.tasks.heartbeat", Schedule.MINUTES, minutes=1),
    # Wagtail's scheduled publishing (公開日時 of pages and snippets, e.g. メニューセット).
    ScheduleSpec(
        "wagtail.publish_scheduled", "kairan.core.tasks.publish_scheduled", Schedule.MINUTES, minutes=1
    ),
    ScheduleSpec(
        "kairan.oplog.purge", "kairan.oplog.tasks.purge_expired_logs", Schedule.CRON, cron="30 3 * * *"
    ),
    ScheduleSpec(
        "kairan.oplog.verify", "kairan.oplog.tasks.verify_operation_log", Schedule.CRON, cron="0 4 * * *"
    ),
    # Webhook events still pending (a stopped cluster, a failed task): nothing stored is lost.
    ScheduleSpec(
        "line_channel.webhook.process",
        "line_channel.tasks.process_pending_webhook_events",
        Schedule.MINUTES,
        minutes=1,
    ),
    ScheduleSpec(
        "line_channel.webhook.purge",
        "line_channel.tasks.purge_old_webhook_events",
        Schedule.CRON,
        cron="40 3 * * *",
    ),
    ScheduleSpec(
        "residents.purge",
        "residents.tasks.purge_departed_residents",
        Schedule.CRON,
        cron="50 3 * * *",
    ),
    ScheduleSpec(
        "line_channel.followers.profiles",
        "line_channel.tasks.refresh_follower_profiles",
        Schedule.MINUTES,
        minutes=10,
    ),
    # LINE outbox: requeue items whose sender died, send what is due (enqueues also wake senders).
    ScheduleSpec("line_channel.outbox.tick", "line_channel.tasks_outbox.tick", Schedule.MINUTES, minutes=1),
    # 配信: start due runs, close finished ones, count blocks after 24 hours (the cluster's
    # ticker starts due runs within a second; this is the fallback).
    ScheduleSpec("deliveries.tick", "deliveries.tasks.tick", Schedule.MINUTES, minutes=1),
    # リッチメニュー: 災害モード steps waiting for LINE; replaced menus retired (friends moved, then deleted).
    ScheduleSpec("richmenus.tick", "richmenus.tasks.tick", Schedule.MINUTES, minutes=1),
    # Menus of a 配信グループ: friends who joined or left the group since the last pass.
    ScheduleSpec(
        "richmenus.segment_links", "richmenus.tasks.sync_segment_links", Schedule.CRON, cron="40 4 * * *"
    ),
    # ホームページ取り込み: the city's website read again into chatbot answers (02:30, Asia/Tokyo).
    ScheduleSpec("scraper.sync", "scraper.tasks.sync_all", Schedule.CRON, cron="30 2 * * *"),
    ScheduleSpec(
        "line_channel.ratelimit.purge",
        "line_channel.tasks_outbox.purge_rate_windows",
        Schedule.CRON,
        cron="17 * * * *",
    ),
)


# Called about once a second by the cluster's main process (``qcluster``): work that must start
# within seconds of its time, which Django-Q's scheduler (every 30 seconds) cannot promise.
# Each is cheap when idle and only queues tasks or makes short writes.
TICKERS: tuple[str, ...] = (
    "deliveries.tasks.every_second",
    "line_channel.tasks_outbox.every_second",
    "richmenus.tasks.every_second",
)


def ensure_schedules() -> list[str]:
    """Create or update every schedule in SCHEDULES; return their names."""
    for spec in SCHEDULES:
        Schedule.objects.update_or_create(
            name=spec.name,
            defaults={
                "func": spec.func,
                "schedule_type": spec.schedule_type,
                "minutes": spec.minutes,
                "cron": spec.cron,
                "repeats": -1,
            },
        )
    return [spec.name for spec in SCHEDULES]
