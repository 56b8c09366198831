"""The model versions in a real browser: compare a retrained version with the active one, promote
it although the gate refuses (a reason required), then roll back from the list."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.browser import active_version_wait, version_row, version_stored

pytestmark = pytest.mark.e2e


def test_compare_then_promote_with_a_reason_then_roll_back(server, admin_page, console_errors):
    page = admin_page
    name = version_stored(server)
    active = server.request("GET", "/readyz")[1]["model_version"]

    page.goto("/admin/predictor/modelversion/")
    version_row(page, name).get_by_role("link", name="Compare", exact=True).click()
    expect(
        page.get_by_role("heading", name=f"{name} against the active version {active}")
    ).to_be_visible()
    # The sample's evaluation set is too small for the gate: it refuses, and says why.
    expect(page.locator(".gate-verdict")).to_have_text("refuse")
    expect(page.locator(".gate-reason")).to_contain_text("too few evaluation rows")

    page.get_by_role("button", name=f"Promote {name}").click()
    expect(page.locator(".messagelist .warning")).to_contain_text(f"The gate refused {name}")
    confirm = page.get_by_role("heading", name=f"Promote {name} although the gate refused it?")
    expect(confirm).to_be_visible()
    anyway = page.get_by_role("button", name=f"Promote {name} anyway")
    anyway.click()  # no reason: the browser keeps the form (the field is required)
    expect(confirm).to_be_visible()
    page.get_by_label("Reason").fill("e2e: checking the confirmation")
    anyway.click()

    expect(page.locator(".messagelist .success")).to_have_text(
        f"Promoted {name} (was {active}), forced: e2e: checking the confirmation"
    )
    expect(version_row(page, name).locator("td.field-active img")).to_have_attribute("alt", "True")
    active_version_wait(server, name)

    page.get_by_role("button", name="Roll back to the previous version").click()
    expect(page.locator(".messagelist .success")).to_have_text(
        f"Rolled back from {name} to {active}."
    )
    expect(version_row(page, active).locator("td.field-active img")).to_have_attribute(
        "alt", "True"
    )
    active_version_wait(server, active)

    # The history says who did what and why.
    page.goto("/admin/predictor/modelactivation/")
    rows = page.locator("#result_list tbody tr")
    expect(rows.nth(0)).to_contain_text("rollback")
    expect(rows.nth(1)).to_contain_text("forced: e2e: checking the confirmation")

    # The dashboard marks both activations on today's bar of its daily chart.
    page.goto("/admin/predictor/prediction/dashboard/")
    page.wait_for_load_state("load")
    marked = page.evaluate(
        """() => Chart.getChart(document.getElementById('chart-daily')).data.datasets
              .find(d => d.label === 'Model activated').versions.at(-1)"""
    )
    assert f"{name}, {active}" in marked
    expect(page.locator("#activations")).to_contain_text("forced: e2e: checking the confirmation")
    assert console_errors == []
