"""Middleware that must run before everything else."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


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
