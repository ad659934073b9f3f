from __future__ import annotations

from typing import Any

from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate
from wagtail.users.apps import WagtailUsersAppConfig


def _sync_roles(sender: AppConfig, **kwargs: Any) -> None:
    from django.contrib.auth.management import create_permissions
    from wagtail.snippets.models import create_extra_permissions

    from kairan.staff.permissions import japanese_permission_names, sync_role_permissions

    # post_migrate runs app by app; make sure every app's permissions exist
    # before the roles are given theirs.
    for app_config in apps.get_app_configs():
        create_permissions(app_config, verbosity=0, using=kwargs.get("using", "default"))
    # Wagtail's publish / lock / unlock rights of snippets (deliveries) come from its own handler.
    create_extra_permissions(apps.get_app_config("wagtailsnippets"), using=kwargs.get("using", "default"))
    sync_role_permissions()
    japanese_permission_names()


class StaffConfig(AppConfig):
    name = "kairan.staff"
    label = "staff"
    verbose_name = "職員と権限"
    default = True

    def ready(self) -> None:
        post_migrate.connect(_sync_roles, sender=self, dispatch_uid="kairan.staff.sync_roles")


class KairanUsersAppConfig(WagtailUsersAppConfig):
    """Wagtail's users app with our user viewset (help link, two-factor reset)."""

    user_viewset = "kairan.staff.viewsets.StaffUserViewSet"
