"""Start Django for a bench script: the project on the path, demo settings, a scratch SQLite file
(or DATABASE_URL's PostgreSQL), migrated, cache table made. Import it from a script in this folder."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def start_django() -> None:
    sys.path[:0] = [str(ROOT), str(ROOT / "site")]
    os.environ.setdefault("KAIRAN_DEMO", "1")
    os.environ.setdefault("KAIRAN_LOG_LEVEL", "warning")
    os.environ["DJANGO_SETTINGS_MODULE"] = "kairan.settings"
    os.environ.setdefault("KAIRAN_VAR_DIR", tempfile.mkdtemp(prefix="kairan-bench-"))

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
