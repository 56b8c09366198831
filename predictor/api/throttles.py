"""Rate limits for anonymous prediction calls, kept in the shared Django cache."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import AnonRateThrottle


class PredictionRateThrottle(AnonRateThrottle):
    """PREDICTION_THROTTLE_RATE per client address for anonymous callers; "none" disables it.

    A fixed-window counter (one atomic `incr` per call) rather than DRF's default sliding log,
    which reads and rewrites the whole list of recent timestamps on every request (a large part
    of a prediction's time in bench/profile_request.py; docs/performance.md). The cost: a client
    may send up to twice the rate across a window boundary.
    """

    scope = "predictions"

    def get_rate(self) -> str | None:
        rate = settings.PREDICTION_THROTTLE_RATE
        return None if rate.lower() == "none" else rate

    def allow_request(self, request, view) -> bool:
        if request.user.is_authenticated:
            return True
        # Counted already by the hot path, which then left the call to the full view.
        verdict = getattr(request, "prediction_throttle_allowed", None)
        return self.allow_anonymous(request) if verdict is None else verdict

    def allow_anonymous(self, request) -> bool:
        """Count one anonymous call of the client `request` comes from; False once over the
        rate. Works on a plain Django request too (the hot path, predictor/api/fast.py)."""
        if self.rate is None:
            return True
        window = int(time.time() // self.duration)
        key = f"throttle:{self.scope}:{self.get_ident(request)}:{window}"
        try:
            count = cache.incr(key)
        except ValueError:  # first call of this window
            count = 1 if cache.add(key, 1, self.duration + 1) else cache.incr(key)
        return count <= self.num_requests

    def wait(self) -> float:
        """Seconds until the current window ends."""
        now = time.time()
        return max(0.0, (now // self.duration + 1) * self.duration - now)
