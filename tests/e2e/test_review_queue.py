"""The review queue driven from the keyboard: d labels a disaster, n not a disaster, s skips."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.browser import predictions_create

pytestmark = pytest.mark.e2e

HEADING = re.compile(r"^Prediction #(\d+): is this about a real disaster\?$")


def shown_id(page) -> int:
    heading = page.locator("#review-heading")
    expect(heading).to_have_text(HEADING)
    return int(HEADING.match(heading.inner_text()).group(1))


def label_of(page, prediction_id: int) -> str | None:
    """The stored reviewer label, from the API with the page's staff session."""
    response = page.request.get(f"/api/predictions/{prediction_id}/")
    assert response.ok, response.text()
    return response.json()["true_label"]


def test_keyboard_shortcuts_label_and_skip(server, admin_page, console_errors):
    page = admin_page
    predictions_create(
        server,
        [
            "Gas explosion downtown, several injured",
            "Flood warning for the river valley tonight",
            "My phone battery died again, what a disaster lol",
            "Tornado touched down near the highway",  # one left after the three decisions
        ],
    )
    page.goto("/admin/")
    page.locator("#review-summary").get_by_role("link", name="Review queue").click()
    expect(page).to_have_title(re.compile("^Review queue"))

    first = shown_id(page)
    page.keyboard.press("d")
    expect(page.locator(".messagelist .success")).to_have_text(f"#{first} marked “Disaster”.")
    second = shown_id(page)
    assert second != first

    page.keyboard.press("n")
    expect(page.locator(".messagelist .success")).to_have_text(
        f"#{second} marked “Not a disaster”."
    )
    third = shown_id(page)
    assert third not in (first, second)

    page.keyboard.press("s")
    expect(page.locator("#review-progress")).to_contain_text("1 skipped in this session")
    assert shown_id(page) not in (first, second, third)

    assert label_of(page, first) == "disaster"
    assert label_of(page, second) == "not_disaster"
    assert label_of(page, third) is None  # skipped, still waiting for a reviewer
    assert console_errors == []
