from django.apps import AppConfig


class OplogConfig(AppConfig):
    name = "kairan.oplog"
    label = "oplog"
    verbose_name = "操作ログ"

    def ready(self) -> None:
        from kairan.oplog import signals

        signals.connect()
