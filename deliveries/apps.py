from django.apps import AppConfig


class DeliveriesConfig(AppConfig):
    name = "deliveries"
    verbose_name = "配信"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from deliveries import signals  # noqa: F401 - connects the receivers
