from django.apps import AppConfig


class LineChannelConfig(AppConfig):
    name = "line_channel"
    label = "line_channel"
    verbose_name = "LINE 連携"
    default_auto_field = "django.db.models.BigAutoField"
