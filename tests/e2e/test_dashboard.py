"""The dashboard in a real browser: Chart.js draws its three charts, the drift panel shows, and
nothing errs."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.browser import DISASTER_TWEET, SAFE_TWEET, predictions_create

pytestmark = pytest.mark.e2e

CHARTS = ["chart-daily", "chart-histogram", "chart-versions"]

# Per canvas: its drawn size, whether Chart.js owns it, and how many pixels it painted.
CANVAS_STATE = """ids => ids.map(id => {
  const canvas = document.getElementById(id);
  if (!canvas) return {id, missing: true};
  const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) painted++;
  return {id, width: canvas.width, height: canvas.height,
          chart: Boolean(window.Chart && Chart.getChart(canvas)), painted};
})"""


def test_the_charts_are_drawn_without_errors(server, admin_page, console_errors):
    page = admin_page
    predictions_create(server, [DISASTER_TWEET, SAFE_TWEET])
    page.goto("/admin/")
    page.locator("#review-summary").get_by_role("link", name="Dashboard").click()
    expect(page).to_have_title(re.compile("^Dashboard"))
    page.wait_for_load_state("load")  # the deferred scripts have run

    for canvas in page.evaluate(CANVAS_STATE, CHARTS):
        assert canvas.get("chart"), f"Chart.js did not draw {canvas}"
        assert canvas["width"] > 200 and canvas["height"] > 100, canvas
        assert canvas["painted"] > 1000, f"{canvas['id']} is blank: {canvas}"
    expect(page.locator(".dashboard-totals")).to_contain_text("Predictions")
    drift = page.get_by_role("region", name="Drift")
    expect(drift).to_be_visible()
    expect(drift.get_by_role("table")).to_contain_text("Called disaster")
    expect(drift.get_by_role("table")).to_contain_text("Words not in the vocabulary")

    page.get_by_label("Period").select_option(label="last 7 days")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"\?days=7$"))
    assert all(canvas.get("chart") for canvas in page.evaluate(CANVAS_STATE, CHARTS))
    assert console_errors == []
