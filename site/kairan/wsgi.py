"""WSGI entry point (granian --interface wsgi kairan.wsgi:application)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kairan.settings")

application = get_wsgi_application()
