"""Fixtures of the browser tests: one `make serve` (production configuration) with its accounts
and a task worker, one headless Debian Chromium, and a fresh browser context per test. Run by
`make test-e2e`."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e import browser as e2e
from tests.live_server import LiveServer, start_server

# `make test` runs without the browser-test requirements (requirements-e2e.txt): then these
# modules are not even collected (they are deselected by the e2e marker anyway).
if importlib.util.find_spec("playwright") is None:
    collect_ignore_glob = ["test_*.py"]


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    # `make serve`: gunicorn and, beside it, the task worker that runs the background jobs.
    live = start_server(tmp_path_factory.mktemp("e2e-data"))
    try:
        e2e.users_create(live)
        yield live
    finally:
        live.stop()


@pytest.fixture(scope="session")
def chromium() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = e2e.chromium_launch(playwright)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def console_errors() -> list[str]:
    """What the test's page logged as an error (console.error, failed loads) or threw."""
    return []


@pytest.fixture
def page(chromium, server: LiveServer, console_errors: list[str], request) -> Iterator:
    """A page in a new context (no cookies), addresses relative to the server."""
    # Every flow runs under the site's real CSP (axe-core is evaluated, not added as a script).
    context = chromium.new_context(
        base_url=f"http://127.0.0.1:{server.port}", viewport=e2e.VIEWPORT
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.on(
        "console",
        lambda message: (
            console_errors.append(f"{message.text} ({message.location.get('url')})")
            if message.type == "error"
            else None
        ),
    )
    page.on("pageerror", lambda error: console_errors.append(f"uncaught: {error}"))
    try:
        yield page
    finally:
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:  # keep what the browser showed
            shots = Path(str(request.config.rootpath)) / "var" / "e2e-failures"
            shots.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shots / f"{request.node.name}.png"), full_page=True)
        context.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture
def admin_page(page):
    """A page signed in as the superuser."""
    e2e.login(page, "admin")
    return page
