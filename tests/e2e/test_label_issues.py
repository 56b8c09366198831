"""The label check in a real browser, with the real task worker: the prediction list's "Check
labels" -> the job's page follows it and ends with the counts -> the link opens the flagged
reviews in the admin, most suspicious first; axe-core on the job's page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.browser import DISASTER_TWEET, axe_report, axe_violations, login

pytestmark = pytest.mark.e2e

JOB_PAGE = re.compile(r"/jobs/(\d+)/$")
JOB_TIMEOUT_MS = 90_000  # five fits on the bundled sample, on a busy machine


def test_check_labels_from_the_admin_then_open_the_flagged_reviews(server, page, console_errors):
    # A review for the check to score: a clear disaster, labelled the wrong way round.
    status, body = server.request("POST", "/api/predictions/", {"text": DISASTER_TWEET})
    assert status == 201, body
    login(page, "reviewer")
    page.goto(f"/admin/predictor/prediction/{body['id']}/change/")
    page.get_by_label("True label").select_option("not_disaster")
    page.get_by_role("button", name="Save", exact=True).click()

    page.goto("/admin/predictor/prediction/")
    page.get_by_role("button", name="Check labels").click()

    expect(page).to_have_url(JOB_PAGE)
    job = int(JOB_PAGE.search(page.url).group(1))
    expect(page.locator(".message-success")).to_contain_text(f"Label check queued as job #{job}")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Label check job #{job}")
    result = page.locator(".label-issues-report")
    expect(result.get_by_role("heading")).to_have_text(
        re.compile(r"^[\d,]+ labels checked$"), timeout=JOB_TIMEOUT_MS
    )
    # Other browser tests on this server give reviews too: at least this one was checked.
    expect(result.locator("#flagged-reviewed")).to_have_text(re.compile(r"^\d+ of [1-9]\d*$"))
    violations = axe_violations(page)
    assert not violations, f"axe-core on the label check's page:\n{axe_report(violations)}"

    result.get_by_role("link", name="See the reviews that look wrong").click()
    expect(page).to_have_url(re.compile(r"/admin/predictor/prediction/\?label_wrong=yes&o=-\d+$"))
    expect(page.locator("#changelist-filter")).to_contain_text("By label looks wrong")
    expect(page.locator("#changelist-filter li.selected").filter(has_text="Yes")).to_have_count(1)
    # The review is in the list when the check flagged it, with its suspicion; either way the
    # prediction's own page shows the score the check gave it.
    page.goto(f"/admin/predictor/prediction/{body['id']}/change/")
    expect(page.locator(".field-suspicion_display")).to_contain_text(re.compile(r"0\.\d{3}"))
    assert console_errors == []
