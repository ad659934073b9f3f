"""WSGI entry point (gunicorn kairan.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kairan.settings")

application = get_wsgi_application()
