from django.apps import AppConfig


class ResidentsConfig(AppConfig):
    name = "residents"
    verbose_name = "受信設定"
    default_auto_field = "django.db.models.BigAutoField"
