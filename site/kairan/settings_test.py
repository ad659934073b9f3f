"""Settings for the test suite: the demo mode of the normal settings."""

import os

os.environ.setdefault("KAIRAN_DEMO", "1")

from kairan.settings import *  # noqa: E402,F403

# Static files come from the finders in tests; no collectstatic needed.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
