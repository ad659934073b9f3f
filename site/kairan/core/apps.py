from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "kairan.core"
    label = "core"
    verbose_name = "Kairan"
