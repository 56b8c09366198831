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
        if self.rate is None or request.user.is_authenticated:
            return True
        window = int(time.time() // self.duration)
        self.window_ends = (window + 1) * self.duration
        key = f"throttle:{self.scope}:{self.get_ident(request)}:{window}"
        try:
            count = cache.incr(key)
        except ValueError:  # first call of this window
            count = 1 if cache.add(key, 1, self.duration + 1) else cache.incr(key)
        return count <= self.num_requests

    def wait(self) -> float:
        return max(0.0, self.window_ends - time.time())
