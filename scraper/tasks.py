"""Django-Q tasks of ホームページ取り込み.

- ``sync_all`` (nightly schedule ``scraper.sync``): a ``sync_source`` task per enabled source.
- ``sync_source``: start a run (or the run 「今すぐ取り込む」 queued) and work on it for one step.
- ``continue_run``: the next step of a run that did not finish within a task.

A step lasts at most half the cluster's timeout, so a large site never makes the cluster kill a
task; a repeated task (Django-Q may deliver one twice) finds its step taken and does nothing.
"""

from __future__ import annotations

from django_q.tasks import async_task

from scraper import services
from scraper.models import ScrapeRun, ScrapeSource


def _continue_if_paused(run: ScrapeRun) -> None:
    if run.stepped and run.status == ScrapeRun.Status.RUNNING and not run.in_step:
        async_task(services.CONTINUE_TASK, run.pk, run.step, group="scraper")


def _outcome(run: ScrapeRun) -> str:
    return f"#{run.pk} {run.get_status_display()}: {services.summary(run)} {run.message}".strip()


def sync_all() -> list[int]:
    """The nightly schedule: queue a run of every enabled source; returns their ids."""
    ids = list(ScrapeSource.objects.filter(enabled=True).order_by("pk").values_list("pk", flat=True))
    for source_id in ids:
        async_task(services.SYNC_TASK, source_id, ScrapeRun.Trigger.SCHEDULE, group="scraper")
    return ids


def sync_source(source_id: int, trigger: str = ScrapeRun.Trigger.SCHEDULE, run_id: int | None = None) -> str:
    if not ScrapeSource.objects.filter(pk=source_id).exists():
        return f"source {source_id} is gone"
    run = services.run_sync(
        source_id=source_id, trigger=trigger, run_id=run_id, time_budget=services.step_seconds()
    )
    _continue_if_paused(run)
    return _outcome(run)


def continue_run(run_id: int, step: int) -> str:
    run = services.continue_run(run_id=run_id, step=step, time_budget=services.step_seconds())
    _continue_if_paused(run)
    return _outcome(run)
