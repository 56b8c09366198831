"""The admin in a real browser: signing in, keeping non-staff out, bulk relabelling from the
prediction list, and activating (then rolling back) a model version."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.e2e.browser import (
    active_version_wait,
    login,
    manage_ok,
    predictions_create,
)

pytestmark = pytest.mark.e2e


def test_staff_sign_in_and_see_the_review_summary(page):
    page.goto("/admin/")
    expect(page).to_have_url(re.compile(r"/admin/login/\?next=/admin/$"))

    login(page, "admin", "wrong password")
    expect(page.locator(".errornote")).to_contain_text("Please enter the correct username")

    login(page, "admin")
    expect(page).to_have_url(re.compile(r"/admin/$"))
    summary = page.locator("#review-summary")
    expect(summary.get_by_role("link", name="Review queue")).to_be_visible()
    expect(summary.get_by_role("link", name="Dashboard")).to_be_visible()
    expect(summary).to_contain_text("newer than the active model v1")


def test_a_plain_user_is_kept_out(page):
    login(page, "plain")
    expect(page.locator(".errornote")).to_contain_text("staff account")
    for address in (
        "/admin/",
        "/admin/predictor/prediction/",
        "/admin/predictor/prediction/review/",
        "/admin/predictor/prediction/dashboard/",
    ):
        page.goto(address)
        expect(page).to_have_url(re.compile(r"/admin/login/\?next="))
        expect(page.get_by_role("button", name="Log in")).to_be_visible()


def test_a_reviewer_cannot_activate_a_model(page):
    login(page, "reviewer")
    page.goto("/admin/predictor/modelversion/")
    expect(page.get_by_role("heading", name="Select model version to view")).to_be_visible()
    # No checkboxes, no action menu: activating needs the "activate" permission.
    expect(page.locator("select[name=action]")).to_have_count(0)


def test_bulk_relabel_from_the_prediction_list(server, admin_page):
    page = admin_page
    tag = f"e2e{uuid.uuid4().hex[:8]}"
    predictions_create(server, [f"Bridge collapsed after the storm {tag} #{n}" for n in range(3)])

    page.goto(f"/admin/predictor/prediction/?q={tag}")
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(3)
    page.locator("#action-toggle").check()
    page.locator("select[name=action]").select_option(label="Mark as not disaster")
    page.get_by_role("button", name="Go").click()

    expect(page.locator(".messagelist .success")).to_have_text(
        "3 predictions set to “Not a disaster”."
    )
    expect(rows).to_have_count(3)
    for n in range(3):
        expect(rows.nth(n).locator("td.field-true_label")).to_have_text("Not a disaster")
        expect(rows.nth(n).locator("td.field-reviewed_by")).to_have_text("admin")

    # The relabel is in the prediction's history, with who did it and how.
    rows.first.locator("th.field-short_text a").click()
    page.get_by_role("link", name="History").click()
    expect(page.locator("#change-history")).to_contain_text("admin action")


def test_activate_a_second_version_then_roll_back(server, admin_page):
    page = admin_page
    out = manage_ok(server, "retrain", "--no-activate", "--data", "data/sample_tweets.csv")
    name = re.search(r"^(\S+) stored \(not active\)", out, re.MULTILINE).group(1)

    def activate(version: str, was: str) -> None:
        page.goto("/admin/predictor/modelversion/")
        row = page.locator("#result_list tbody tr").filter(
            has=page.get_by_role("link", name=version, exact=True)
        )
        row.get_by_role("checkbox").check()
        page.locator("select[name=action]").select_option(label="Activate selected version")
        page.get_by_role("button", name="Go").click()
        expect(page.locator(".messagelist .success")).to_have_text(
            f"Activated model {version} (was {was})."
        )
        expect(row.locator("td.field-active img")).to_have_attribute("alt", "True")
        active_version_wait(server, version)

    activate(name, was="v1")
    # The form now answers with the new version.
    page.goto("/")
    page.get_by_label("Message").fill("Earthquake shakes the city, buildings damaged")
    page.get_by_role("button", name="Classify").click()
    expect(page.get_by_role("status")).to_contain_text(re.compile(rf"Model\s*{name}\b"))

    activate("v1", was=name)  # rolling back is activating the older one
