"""axe-core, injected into each page as a visitor or a reviewer sees it: no serious or critical
violations on the form, its result, its error state, the review queue, the dashboard and the
model versions' pages (list, a version, compare, the promotion's confirmation, shadow replay)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.browser import (
    DISASTER_TWEET,
    axe_report,
    axe_violations,
    login,
    predictions_create,
    version_row,
    version_stored,
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


@pytest.fixture(scope="module")
def candidate(server) -> str:
    """A version stored beside the active one (trained on the sample, not activated)."""
    return version_stored(server)


def open_versions(page, name: str) -> None:
    login(page, "admin")
    page.goto("/admin/predictor/modelversion/")
    expect(version_row(page, name)).to_be_visible()


def open_version(page, name: str) -> None:
    open_versions(page, name)
    version_row(page, name).get_by_role("link", name=name, exact=True).click()
    expect(page.locator(".field-gate_report")).to_be_visible()


def open_compare(page, name: str) -> None:
    open_versions(page, name)
    version_row(page, name).get_by_role("link", name="Compare", exact=True).click()
    expect(page.locator(".comparison-table")).to_be_visible()


def open_promote_confirmation(page, name: str) -> None:
    open_compare(page, name)
    page.get_by_role("button", name=f"Promote {name}").click()
    expect(page.get_by_label("Reason")).to_be_visible()


def open_replay(page, name: str) -> None:
    open_versions(page, name)
    version_row(page, name).get_by_role("link", name="Shadow replay").click()
    expect(page.locator("#replay-totals")).to_be_visible()


VERSION_PAGES = {
    "model versions": open_versions,
    "model version": open_version,
    "compare": open_compare,
    "promote confirmation": open_promote_confirmation,
    "shadow replay": open_replay,
}


@pytest.mark.parametrize("name", VERSION_PAGES)
def test_no_serious_violations_on_the_model_pages(server, page, candidate, name):
    predictions_create(server, ["Hurricane makes landfall, thousands without power"])
    VERSION_PAGES[name](page, candidate)
    violations = axe_violations(page)
    assert not violations, f"axe-core on {name} ({page.url}):\n{axe_report(violations)}"
