from django.apps import AppConfig


class ChatbotConfig(AppConfig):
    name = "chatbot"
    verbose_name = "チャットボット"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from chatbot import signals  # noqa: F401 - connects the receivers
