from django.apps import AppConfig


class RichmenusConfig(AppConfig):
    name = "richmenus"
    verbose_name = "リッチメニュー"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from richmenus import signals  # noqa: F401 - connects the receivers
