"""axe-core, injected into each page as a visitor or a reviewer sees it: no serious or critical
violations on the form, its result, its error state, the review queue and the dashboard."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.browser import (
    DISASTER_TWEET,
    axe_report,
    axe_violations,
    login,
    predictions_create,
)

pytestmark = pytest.mark.e2e


def open_home(page) -> None:
    page.goto("/")


def open_result(page) -> None:
    page.goto("/")
    page.get_by_label("Message").fill(DISASTER_TWEET)
    page.get_by_role("button", name="Classify").click()
    expect(page.get_by_role("status")).to_be_visible()


def open_form_error(page) -> None:
    page.goto("/")
    page.get_by_role("button", name="Classify").click()
    expect(page.locator(".errorlist")).to_be_visible()


def open_review_queue(page) -> None:
    login(page, "admin")
    page.goto("/admin/predictor/prediction/review/")
    expect(page.locator("#review-heading")).to_be_visible()


def open_dashboard(page) -> None:
    login(page, "admin")
    page.goto("/admin/predictor/prediction/dashboard/")
    page.wait_for_load_state("load")


PAGES = {
    "home": open_home,
    "result": open_result,
    "form error": open_form_error,
    "review queue": open_review_queue,
    "dashboard": open_dashboard,
}


@pytest.mark.parametrize("name", PAGES)
def test_no_serious_violations(server, page, name):
    predictions_create(server, ["Hurricane makes landfall, thousands without power"])
    PAGES[name](page)
    violations = axe_violations(page)
    assert not violations, f"axe-core on {name} ({page.url}):\n{axe_report(violations)}"
