"""The CSP middleware that builds its header once gives the headers django-csp gives."""

from __future__ import annotations

import pytest
from csp.constants import HEADER, HEADER_REPORT_ONLY, NONCE, SELF
from csp.decorators import csp_exempt, csp_update
from csp.middleware import CSPMiddleware
from django.http import HttpResponse
from django.test import RequestFactory

from predictor.middleware import StaticCSPMiddleware

REPORT_ONLY = {"DIRECTIVES": {"default-src": ["'self'"], "report-uri": "/csp-report/"}}


def page(request):
    return HttpResponse("<p>page</p>")


@csp_update({"img-src": ["https://example.org"]})
def updated(request):
    return HttpResponse("<p>updated</p>")


@csp_exempt()
def exempt(request):
    return HttpResponse("<p>exempt</p>")


def with_nonce(request):
    return HttpResponse(f"<script nonce='{request.csp_nonce}'></script>")


def headers(middleware_class, view, path: str = "/") -> dict[str, str | None]:
    request = RequestFactory().get(path)
    middleware = middleware_class(view)
    response = middleware(request)
    return {name: response.get(name) for name in (HEADER, HEADER_REPORT_ONLY)}


def nonce_free(value: str | None) -> str | None:
    return value and " ".join(p for p in value.split() if not p.startswith("'nonce-"))


@pytest.mark.parametrize("view", [page, updated, exempt, with_nonce])
@pytest.mark.parametrize("report_only", [None, REPORT_ONLY])
def test_headers_are_django_csps(settings, view, report_only):
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = report_only
    ours, theirs = headers(StaticCSPMiddleware, view), headers(CSPMiddleware, view)
    assert {k: nonce_free(v) for k, v in ours.items()} == {
        k: nonce_free(v) for k, v in theirs.items()
    }
    if view is page:
        assert ours[HEADER] and "default-src 'self'" in ours[HEADER]


def test_a_nonce_used_by_the_page_is_in_the_header(settings):
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"script-src": [SELF, NONCE]}}
    used = []

    def view(request):
        used.append(str(request.csp_nonce))
        return HttpResponse("<script nonce='...'></script>")

    response = StaticCSPMiddleware(view)(RequestFactory().get("/"))
    assert f"script-src 'self' 'nonce-{used[0]}'" in response[HEADER]


def test_a_changed_policy_is_built_again(settings):
    middleware = StaticCSPMiddleware(page)
    first = middleware(RequestFactory().get("/"))[HEADER]
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": ["'none'"]}}
    assert middleware(RequestFactory().get("/"))[HEADER] == "default-src 'none'"
    assert first != "default-src 'none'"


def test_excluded_prefixes_are_left_to_django_csp(settings):
    settings.CONTENT_SECURITY_POLICY = {
        **settings.CONTENT_SECURITY_POLICY,
        "EXCLUDE_URL_PREFIXES": ["/api/"],
    }
    assert headers(StaticCSPMiddleware, page, "/api/predictions/")[HEADER] is None
    assert headers(StaticCSPMiddleware, page, "/")[HEADER]
