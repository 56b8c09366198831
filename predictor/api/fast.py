"""The hot path of `POST /api/predictions/`: one anonymous tweet in, one stored prediction out.

The common call (a client without credentials posting one tweet as JSON) is answered here,
ahead of the session, CSRF, authentication and messages middleware and of DRF's request cycle
(content negotiation, authenticators, permission and throttle classes), which together cost
more than the model (bench/profile_request.py, docs/performance.md). It answers only what it
can answer exactly as the full view would: a valid tweet, sent as JSON in UTF-8 by a caller with
no Authorization header and no cookie, asking for JSON, within the throttle's rate. Anything
else (an error of any kind, a throttled client, a signed-in caller, a body too large to read
here) returns None, and the request goes on, unchanged, to the full view
(`PredictionListCreateView`), which answers it as it always has. The headers that the skipped
middleware would add to the answer are added here; tests/predictor/api/test_fast.py holds the
two paths' answers equal, header for header.
"""

from __future__ import annotations

import json
from functools import cache

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse
from django.urls import ResolverMatch, resolve
from django.utils.cache import patch_vary_headers
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import JSONRenderer

from predictor import services
from predictor.api.serializers import PredictionSerializer, TweetSerializer
from predictor.api.throttles import PredictionRateThrottle
from predictor.errors import unavailable_reason
from predictor.models import Source
from predictor.security_headers import static_csp_apply

PATH = "/api/predictions/"
# A tweet's body is a few hundred bytes; a larger one (up to DATA_UPLOAD_MAX_MEMORY_SIZE, with
# its own 413 beyond) is left to the full view.
MAX_BODY_BYTES = 64 * 1024
_ACCEPTS = frozenset({"*/*", "application/json"})
_RENDERER = JSONRenderer()


def prediction_create_fast(request: HttpRequest) -> HttpResponse | None:
    """201 with the stored prediction, as the full view answers it; None to leave the request
    to the full view."""
    if not _eligible(request):
        return None
    try:
        # Host validation as CommonMiddleware does it; a bad host gets the full path's 400.
        request.get_host()
        data = json.loads(request.body.decode("utf-8"), parse_constant=_no_constant)
        tweet = TweetSerializer.parse(data)
    except (DisallowedHost, ValueError, RecursionError, ValidationError):
        # Every way of getting these wrong has its answer in the full view (ValueError covers
        # bad UTF-8 and bad JSON).
        return None
    allowed = PredictionRateThrottle().allow_anonymous(request)
    # The full view takes this verdict rather than counting the call a second time.
    request.prediction_throttle_allowed = allowed
    if not allowed:
        return None
    try:
        prediction = services.prediction_create(tweet=tweet, source=Source.API)
    except Exception as exc:
        if unavailable_reason(exc) is None:
            raise
        # "Not now" (no model, a database that refuses): the full view says so with its 503.
        return None
    body = _RENDERER.render(PredictionSerializer.represent(prediction))
    response = HttpResponse(body, status=201, content_type="application/json")
    response["Allow"] = _allow(request)
    static_csp_apply(response)
    response["X-Frame-Options"] = settings.X_FRAME_OPTIONS
    response["Content-Length"] = str(len(body))
    # The full view reads the session to look for a signed-in user.
    patch_vary_headers(response, ("Cookie",))
    # For the request metrics, which name the view.
    request.resolver_match = _match()
    return response


def _eligible(request: HttpRequest) -> bool:
    meta = request.META
    if (
        meta.get("QUERY_STRING")
        or "HTTP_AUTHORIZATION" in meta
        or meta.get("HTTP_COOKIE")
        or meta.get("HTTP_ACCEPT", "*/*") not in _ACCEPTS
    ):
        return False
    media_type, _, params = meta.get("CONTENT_TYPE", "").partition(";")
    if media_type.strip().lower() != "application/json" or params.replace(" ", "").lower() not in (
        "",
        "charset=utf-8",
    ):
        return False
    try:
        length = int(meta.get("CONTENT_LENGTH") or "")
    except ValueError:
        return False
    return 0 < length <= min(MAX_BODY_BYTES, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)


def _no_constant(name: str) -> None:
    # NaN and Infinity are not JSON (DRF's STRICT_JSON).
    raise ValueError(f"{name} is not valid JSON")


_allowed: str | None = None


def _allow(request: HttpRequest) -> str:
    """The full view's Allow header (the same for every request)."""
    global _allowed
    if _allowed is None:
        view = _match().func.view_class()
        view.setup(request)  # as as_view() does: HEAD where there is GET
        _allowed = ", ".join(view.allowed_methods)
    return _allowed


@cache
def _match() -> ResolverMatch:
    return resolve(PATH)
