"""The site's own middleware: health checks before everything else, "not now" failures as 503
pages, the CSP header."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from csp.middleware import CheckableLazyObject, CSPMiddleware
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render
from django.utils.deprecation import MiddlewareMixin
from django_prometheus.utils import Time, TimeSince

from predictor import metrics
from predictor.api import fast
from predictor.errors import unavailable_reason
from predictor.metrics import RequestMetrics
from predictor.security_headers import static_csp_apply

logger = logging.getLogger(__name__)

View = TypeVar("View", bound=Callable[..., HttpResponseBase])
PageContext = Callable[[HttpRequest], tuple[str, dict[str, Any]]]


class HealthCheckMiddleware:
    """Answer `/healthz` before host validation, sessions or the database are touched.

    A load balancer probes with whatever Host header it likes (often the instance's private
    address), which `ALLOWED_HOSTS` would reject with a 400.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path == "/healthz" and request.method in ("GET", "HEAD"):
            return HttpResponse("ok\n", content_type="text/plain")
        return self.get_response(request)


class MetricsMiddleware:
    """Answer `GET /metrics` (Prometheus) for clients in METRICS_ALLOWED_NETWORKS, before host
    validation, like /healthz: a scraper on the private network names the instance by its
    address. Anyone else's request goes on, to the 404 of an address that does not exist."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (
            request.path == "/metrics"
            and request.method in ("GET", "HEAD")
            and metrics.metrics_client_allowed(request)
        ):
            body, content_type = metrics.metrics_exposition()
            return HttpResponse(body, content_type=content_type)
        return self.get_response(request)


class RequestMetricsMiddleware(MiddlewareMixin):
    """django-prometheus's request metrics, those predictor.metrics.RequestMetrics keeps, under
    the library's names. Placed first (after the probes and /metrics): the latency includes
    every other middleware."""

    METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        super().__init__(get_response)
        self.metrics = RequestMetrics.get_instance()

    def process_request(self, request: HttpRequest) -> None:
        request.metrics_started = Time()

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        view, method = self._view(request), self._method(request)
        self.metrics.responses(str(response.status_code), view, method).inc()
        started = getattr(request, "metrics_started", None)
        if started is not None:
            self.metrics.latency(view, method).observe(TimeSince(started))
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        self.metrics.exceptions_by_type.labels(type=type(exception).__name__).inc()
        self.metrics.exceptions_by_view.labels(view=self._view(request)).inc()

    @staticmethod
    def _view(request: HttpRequest) -> str:
        # URL names only (a bounded set); an address that matched none has no view.
        match = getattr(request, "resolver_match", None)
        return (match.view_name if match is not None else None) or "<unnamed view>"

    def _method(self, request: HttpRequest) -> str:
        return request.method if request.method in self.METHODS else "<invalid method>"


class PredictionFastPathMiddleware:
    """`POST /api/predictions/` from an API client without credentials, answered by
    predictor.api.fast ahead of the middleware below it and of DRF; any other request, or one
    the fast path leaves (errors, throttled, signed in), goes on unchanged.
    PREDICTION_FAST_PATH=0 turns it off."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (
            request.path_info == fast.PATH
            and request.method == "POST"
            and settings.PREDICTION_FAST_PATH
        ):
            response = fast.prediction_create_fast(request)
            if response is not None:
                return response
        return self.get_response(request)


def unavailable_page(page: PageContext) -> Callable[[View], View]:
    """Say how a view's page looks when it cannot be served now: `page(request)` gives the
    template and context (e.g. the form again, with what was typed) that
    ServiceUnavailableMiddleware renders with the reason and a 503."""

    def decorate(view: View) -> View:
        view.unavailable_page = page  # type: ignore[attr-defined]
        return view

    return decorate


class ServiceUnavailableMiddleware:
    """The pages' one mapping of "not now" failures (predictor.errors: no model, a database that
    refuses) to a 503 page that says why; the API has its own in its exception handler."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        reason = unavailable_reason(exception)
        if reason is None:
            return None
        code, message = reason
        if code == "database_unavailable":
            logger.error("database unavailable at %s: %s", request.path, exception)
        else:
            message = f"The model is not available ({message}). Please try again in a minute."
        view = request.resolver_match.func if request.resolver_match else None
        page: PageContext | None = getattr(view, "unavailable_page", None)
        template, context = page(request) if page else ("unavailable.html", {})
        return render(request, template, {**context, "unavailable": message}, status=503)


_PER_VIEW_POLICY = (
    "_csp_exempt",
    "_csp_exempt_ro",
    "_csp_config",
    "_csp_update",
    "_csp_replace",
    "_csp_config_ro",
    "_csp_update_ro",
    "_csp_replace_ro",
)


class StaticCSPMiddleware(CSPMiddleware):
    """django-csp's middleware, with the policy header built once rather than per response.

    django-csp rebuilds both headers from the settings on every response (`build_policy` twice,
    a visible share of an API prediction in bench/profile_request.py). This site's policy is static:
    while a response asks for nothing of its own (no nonce used, no per-view decorator, no
    excluded prefixes configured), the headers built from the current settings are reused;
    anything else goes through django-csp unchanged.
    """

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        enforced = getattr(settings, "CONTENT_SECURITY_POLICY", None)
        report_only = getattr(settings, "CONTENT_SECURITY_POLICY_REPORT_ONLY", None)
        if (
            getattr(request, "_csp_nonce", None) is not None
            or any(hasattr(response, name) for name in _PER_VIEW_POLICY)
            or any((policy or {}).get("EXCLUDE_URL_PREFIXES") for policy in (enforced, report_only))
            or (settings.DEBUG and response.status_code in (404, 500))
        ):
            return super().process_response(request, response)
        static_csp_apply(response)
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)
        return response
