"""The site's own middleware: health checks before everything else, the CSP header."""

from collections.abc import Callable

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject, CSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase


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
    ~8% of an API prediction's time in bench/profile_request.py). This site's policy is static:
    while a response asks for nothing of its own (no nonce used, no per-view decorator, no
    excluded prefixes configured), the headers built from the current settings are reused;
    anything else goes through django-csp unchanged.
    """

    _built: tuple[object, object, str, str] | None = None

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
        built = self._built
        if built is None or built[0] is not enforced or built[1] is not report_only:
            built = (enforced, report_only, build_policy(), build_policy(report_only=True))
            self._built = built
        if built[2] and HEADER not in response:
            response[HEADER] = built[2]
        if built[3] and HEADER_REPORT_ONLY not in response:
            response[HEADER_REPORT_ONLY] = built[3]
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)
        return response
