"""Operation-log figures: append rate, chain verification and CSV export speed.

Usage: .venv/bin/python bench/oplog.py [--entries N] [--threads T]
Runs against a fresh SQLite file in a temporary directory (or DATABASE_URL's
PostgreSQL, whose tables it empties first: use a scratch database). Prints one
JSON object on its last line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=2000, help="entries to append (default 2000)")
    parser.add_argument("--threads", type=int, default=4, help="concurrent writers (default 4)")
    args = parser.parse_args()

    sys.path[:0] = [str(ROOT), str(ROOT / "site")]
    os.environ.setdefault("KAIRAN_DEMO", "1")
    os.environ.setdefault("KAIRAN_LOG_LEVEL", "warning")
    os.environ["DJANGO_SETTINGS_MODULE"] = "kairan.settings"
    tmp = tempfile.mkdtemp(prefix="kairan-bench-")
    os.environ.setdefault("KAIRAN_VAR_DIR", tmp)

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, connections

    call_command("migrate", verbosity=0)
    from kairan.core.exports import csv_bytes
    from kairan.oplog.chain import verify_chain
    from kairan.oplog.models import OperationLogChain, OperationLogEntry
    from kairan.oplog.services import record

    OperationLogEntry.objects.all().delete()
    OperationLogChain.objects.filter(pk=1).update(last_sequence=0, last_hash="0" * 64, anchor_sequence=0)

    per_thread = max(1, args.entries // args.threads)

    def writer(n: int) -> None:
        try:
            for i in range(per_thread):
                record(
                    action="kairan.write.update",
                    username=f"staff{n}",
                    object_label=f"ページ{i}",
                    data={"i": i, "note": "大船渡市"},
                )
        finally:
            connections.close_all()

    started = time.perf_counter()
    threads = [threading.Thread(target=writer, args=(n,)) for n in range(args.threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    append_seconds = time.perf_counter() - started
    total = OperationLogEntry.objects.count()

    started = time.perf_counter()
    result = verify_chain()
    verify_seconds = time.perf_counter() - started

    started = time.perf_counter()
    rows = (
        [e.sequence, e.timestamp, e.username, e.action, e.object_label, e.data]
        for e in OperationLogEntry.objects.order_by("sequence").iterator(chunk_size=2000)
    )
    size = len(csv_bytes(["seq", "time", "user", "action", "object", "data"], rows))
    export_seconds = time.perf_counter() - started

    print(
        json.dumps(
            {
                "database": connection.vendor,
                "entries": total,
                "threads": args.threads,
                "chain_ok": result.ok,
                "appends_per_second": round(total / append_seconds, 1),
                "verify_entries_per_second": round(total / verify_seconds, 1),
                "csv_export_entries_per_second": round(total / export_seconds, 1),
                "csv_bytes": size,
            }
        )
    )


if __name__ == "__main__":
    main()
