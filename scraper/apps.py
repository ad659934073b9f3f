from django.apps import AppConfig


class ScraperConfig(AppConfig):
    name = "scraper"
    verbose_name = "ホームページ取り込み"
    default_auto_field = "django.db.models.BigAutoField"
