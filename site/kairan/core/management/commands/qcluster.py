"""``manage.py qcluster``: Django-Q's cluster, which any number of stop signals stops cleanly.

Django-Q stops its cluster inside the signal handler (``Event.set`` on a multiprocessing event,
then a join on the sentinel). A second SIGTERM/SIGINT that arrives while the first handler holds
the event's lock runs the handler again, which waits for that lock forever (django-q2 issue
#346). Two signals are the normal case: Ctrl+C in ``make run`` signals the whole process group
and ``scripts/run.sh`` then stops each process; systemd's control-group kill and ``timeout`` do
the same. Here the handler only records the request; the main thread, which waits for the
sentinel in short steps, stops the cluster once, outside signal context.

With a SIGTERM to the whole group, the sentinel and workers end at once (Django-Q leaves
SIGTERM at its default there): a task cut short is run again, as every task of ours may be.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from types import FrameType
from typing import Any

from django.db import close_old_connections
from django.utils.module_loading import import_string
from django_q.cluster import Cluster
from django_q.management.commands import qcluster

from kairan.core.schedules import TICKERS

WAIT_STEP_SECONDS = 0.5
SENTINEL_GRACE_SECONDS = 0.5
TICK_SECONDS = 1.0

log = logging.getLogger(__name__)


class Ticker:
    """Runs ``TICKERS`` about once a second in the cluster's main process (outside the workers,
    which it never occupies): scheduled deliveries start within a second of their time, also
    right after a restart. A failing ticker is logged and tried again next second."""

    def __init__(self) -> None:
        self.functions = [import_string(path) for path in TICKERS]
        self.next_at = 0.0

    def __call__(self) -> None:
        if time.monotonic() < self.next_at:
            return
        self.next_at = time.monotonic() + TICK_SECONDS
        for function in self.functions:
            try:
                function()
            except Exception:
                log.exception("ticker %s failed", function)
        close_old_connections()


class SignalSafeCluster(Cluster):
    stop_requested = False

    def sig_handler(self, signum: int, frame: FrameType | None) -> None:
        self.stop_requested = True


class Command(qcluster.Command):
    def handle(self, *args: Any, **options: Any) -> None:
        if options.get("cluster_name"):
            os.environ["Q_CLUSTER_NAME"] = options["cluster_name"]  # as Django-Q's command does
        cluster = SignalSafeCluster()
        cluster.start()
        if options.get("run_once", False):
            cluster.stop()
            return
        ticker = Ticker()
        while cluster.sentinel.is_alive():
            if cluster.stop_requested:
                # A SIGTERM sent to the whole group (systemd, `timeout`) also reached the
                # sentinel, which dies of it at once; a stop event set then would wait forever
                # for the dead sentinel to acknowledge it. So: a moment to die, then stop only
                # a sentinel that is still alive. Later signals only set the flag again.
                cluster.sentinel.join(SENTINEL_GRACE_SECONDS)
                if cluster.sentinel.is_alive():
                    cluster.stop()
                break
            ticker()
            cluster.sentinel.join(WAIT_STEP_SECONDS)
        # Stopped (or the sentinel was signalled with the whole group): a signal still on its
        # way must not turn a clean exit into an interrupted one.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
