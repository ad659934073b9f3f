"""Settings for the test suite: the demo mode of the normal settings."""

import os

os.environ.setdefault("KAIRAN_DEMO", "1")

from kairan.settings import *  # noqa: F403

# Static files come from the finders in tests; no collectstatic needed.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# The SQLite test database is a real file (WAL, busy_timeout), not shared-cache
# memory, so tests with threads and the live server behave like production.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # One file per test run, so runs side by side do not share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}  # noqa: F405

# Every use of the chatbot's content looks at the shared version: tests change pages and the
# cache under it (and roll them back) from one test to the next.
KAIRAN_CHATBOT_CONTENT_CHECK_SECONDS = 0.0
