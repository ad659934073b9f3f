from django.apps import AppConfig


class ManualConfig(AppConfig):
    name = "kairan.manual"
    label = "manual"
    verbose_name = "マニュアル"
