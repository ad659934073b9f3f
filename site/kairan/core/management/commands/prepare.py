"""One command that readies a database and static files for any process.

``make run`` and the Docker image both run exactly this, so they cannot drift:
migrate, create the shared cache table, collect static files and create the
Django-Q schedules. Safe to run any number of times.
"""

from __future__ import annotations

from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from kairan.core.schedules import ensure_schedules


class Command(BaseCommand):
    help = "Migrate, create the cache table, collect static files and ensure Django-Q schedules."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-static", action="store_true", help="skip collectstatic")

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=options["verbosity"])
        call_command("createcachetable", verbosity=options["verbosity"])
        if not options["no_static"]:
            call_command("collectstatic", interactive=False, verbosity=0)
        from search.models import SearchDocument

        if not SearchDocument.objects.exists():  # (pages from before the index, or from migrations)
            call_command("update_index", verbosity=0)
        names = ensure_schedules()
        self.stdout.write(f"Schedules: {', '.join(names)}")
