"""The site's Content-Security-Policy headers, built once (the policy is static)."""

from __future__ import annotations

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.utils import build_policy
from django.conf import settings
from django.http import HttpResponseBase

_built: tuple[object, object, str, str] | None = None


def static_csp_headers() -> tuple[str, str]:
    """The enforced and the report-only policy headers of the current settings ("" for none),
    rebuilt only when a settings object changes (a test's override_settings)."""
    global _built
    enforced = getattr(settings, "CONTENT_SECURITY_POLICY", None)
    report_only = getattr(settings, "CONTENT_SECURITY_POLICY_REPORT_ONLY", None)
    built = _built
    if built is None or built[0] is not enforced or built[1] is not report_only:
        built = _built = (enforced, report_only, build_policy(), build_policy(report_only=True))
    return built[2], built[3]


def static_csp_apply(response: HttpResponseBase) -> None:
    """Give `response` the site's policy headers, where it has none of its own."""
    enforced, report_only = static_csp_headers()
    if enforced and HEADER not in response:
        response[HEADER] = enforced
    if report_only and HEADER_REPORT_ONLY not in response:
        response[HEADER_REPORT_ONLY] = report_only
