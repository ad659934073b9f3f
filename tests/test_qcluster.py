"""``manage.py qcluster`` stops cleanly however many stop signals reach it (Ctrl+C in ``make run``
signals the whole process group, then ``scripts/run.sh`` stops each process)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.line.test_outbox_reliability import database_env

ROOT = Path(__file__).resolve().parents[1]


def wait_for_text(log: Path, text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text(encoding="utf-8", errors="replace"):
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} not in the log:\n{log.read_text(errors='replace')}")
        time.sleep(0.1)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("signals", [["TERM"], ["INT-group", "TERM", "TERM"], ["TERM-group", "TERM", "INT"]])
def test_the_cluster_stops_after_one_or_several_signals(tmp_path: Path, signals: list[str]) -> None:
    log = tmp_path / "qcluster.log"
    env = {
        **os.environ,
        **database_env(),
        "DJANGO_SETTINGS_MODULE": "kairan.settings_test",
        "KAIRAN_LOG_LEVEL": "info",
        "KAIRAN_Q_WORKERS": "2",
    }
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for_text(log, "稼働中です", timeout=30)
        for name in signals:
            number = signal.SIGINT if name.startswith("INT") else signal.SIGTERM
            if name.endswith("-group"):
                os.killpg(process.pid, number)  # what a terminal's Ctrl+C or `timeout` does
            else:
                os.kill(process.pid, number)
            time.sleep(0.02)
        assert process.wait(timeout=30) == 0
        if not signals[0].startswith("TERM-group"):  # else the sentinel was already gone
            wait_for_text(log, "停止しました", timeout=1)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
