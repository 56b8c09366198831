"""Swagger UI at /api/docs/ under the site's Content-Security-Policy (no inline script or style):
it draws every operation and "Try it out" works, with nothing refused. Chromium reports a CSP
refusal as a console error, which every browser test collects; the last test shows it does."""

from __future__ import annotations

import pytest
from playwright.sync_api import Error, expect

pytestmark = pytest.mark.e2e


def test_swagger_ui_works_under_the_content_security_policy(page, console_errors):
    schema = page.request.get("/api/schema/?format=json").json()
    methods = {"get", "put", "post", "patch", "delete", "head", "options", "trace"}
    documented = sum(1 for path in schema["paths"].values() for method in path if method in methods)
    page.goto("/api/docs/")
    operations = page.locator(".opblock")
    expect(operations).to_have_count(documented)
    post = page.locator(".opblock-post", has_text="/api/predictions/").first
    post.locator(".opblock-summary").click()
    post.get_by_role("button", name="Try it out").click()
    post.get_by_role("button", name="Execute").click()
    status = post.locator(".live-responses-table tbody .response-col_status").first
    expect(status).to_have_text("201")
    assert console_errors == []


def test_an_inline_script_is_refused_and_reported(page, console_errors):
    page.goto("/")
    with pytest.raises(Error):
        page.add_script_tag(content="window.injected = true;")
    assert page.evaluate("window.injected") is None
    assert any("Content Security Policy" in error for error in console_errors)
