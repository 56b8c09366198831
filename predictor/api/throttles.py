"""Rate limits for anonymous prediction calls, kept in the shared Django cache."""

from django.conf import settings
from rest_framework.throttling import AnonRateThrottle


class PredictionRateThrottle(AnonRateThrottle):
    """PREDICTION_THROTTLE_RATE per client address for anonymous callers; "none" disables it."""

    scope = "predictions"

    def get_rate(self) -> str | None:
        rate = settings.PREDICTION_THROTTLE_RATE
        return None if rate.lower() == "none" else rate
