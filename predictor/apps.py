"""The predictor app: stored predictions, model versions, and the services around them."""

from django.apps import AppConfig


class PredictorConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "predictor"
    verbose_name = "Disaster predictions"
