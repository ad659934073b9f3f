"""Django-Q tasks of 配信.

- ``dispatch_due``: start every run whose time has come (a task per run; a run is claimed by a
  conditional UPDATE, so two dispatchers never start it twice). Called each second by the
  cluster's ticker (``kairan.core`` ``qcluster``), when a run is created, and every minute by a
  schedule (for clusters started without the ticker).
- ``start_run``: the fan-out of one run (``deliveries.fanout.start``).
- ``finish_runs``: record the outcome of runs none of whose outbox items is pending any more.
- ``tick`` (every minute): all of the above, plus the 24-hour block counts.
"""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django_q.tasks import async_task

from deliveries import fanout

START_TASK = "deliveries.tasks.start_run"
START_GUARD_SECONDS = 10  # a run whose start task was queued is not queued again this soon


def dispatch_due() -> int:
    """Queue a start task for each due run (at most once per run every few seconds)."""
    queued = 0
    for run_id in fanout.due_run_ids():
        if cache.add(f"deliveries:start:{run_id}", 1, timeout=START_GUARD_SECONDS):
            async_task(START_TASK, run_id, group="deliveries")
            queued += 1
    return queued


def start_run(run_id: int) -> str:
    result = fanout.start(run_id)
    fanout.finish(run_id)
    return result


def finish_runs() -> int:
    return sum(fanout.finish(run_id) for run_id in fanout.finishable_runs())


def every_second() -> None:
    """The cluster's ticker: start what is due, close what is over (two indexed reads when idle)."""
    dispatch_due()
    finish_runs()


def tick() -> dict[str, Any]:
    return {"queued": dispatch_due(), "finished": finish_runs(), "blocks_recorded": fanout.record_blocks()}
