"""The predictor app: stored predictions, model versions, and the services around them."""

from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import post_migrate


def _refresh_statistics(sender: AppConfig, using: str, **kwargs: object) -> None:
    from predictor.services import database_statistics_refresh

    database_statistics_refresh(using=using)


class PredictorConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "predictor"
    verbose_name = "Disaster predictions"

    def ready(self) -> None:
        # A fresh DATA_DIR (a new volume, a new checkout) must not stop SQLite from opening.
        settings.MODELS_DIR.mkdir(parents=True, exist_ok=True)
        post_migrate.connect(_refresh_statistics, sender=self)
