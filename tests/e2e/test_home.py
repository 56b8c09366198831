"""The public form in a real browser: a verdict for a disaster and a non-disaster post, a
validation error beside its field, and the old Flask app's /index -> /predict path."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.browser import DISASTER_TWEET, SAFE_TWEET

pytestmark = pytest.mark.e2e


def classify(page, message: str, *, keyword: str = "", location: str = "") -> None:
    page.get_by_label("Keyword").fill(keyword)
    page.get_by_label("Location").fill(location)
    page.get_by_label("Message").fill(message)
    page.get_by_role("button", name="Classify").click()


def test_a_disaster_post_is_called_a_disaster(page, console_errors):
    page.goto("/")
    expect(page).to_have_title("Disaster Tweets")
    classify(page, DISASTER_TWEET, keyword="wildfire", location="B.C. Canada")

    verdict = page.get_by_role("status")
    expect(verdict.get_by_role("heading")).to_have_text("Disaster")
    expect(verdict).to_contain_text(re.compile(r"\d+%\s+probability of a real disaster"))
    expect(verdict).to_contain_text(re.compile(r"Stored as\s*#\d+"))
    expect(page).to_have_title("Disaster \u2013 Disaster Tweets")
    # What was typed stays in the form, ready for the next post.
    expect(page.get_by_label("Message")).to_have_value(DISASTER_TWEET)
    expect(page.get_by_label("Keyword")).to_have_value("wildfire")
    assert console_errors == []


def test_an_ordinary_post_is_not_a_disaster(page, console_errors):
    page.goto("/")
    classify(page, SAFE_TWEET)

    verdict = page.get_by_role("status")
    expect(verdict.get_by_role("heading")).to_have_text("Not a disaster")
    expect(verdict).to_have_class(re.compile(r"\bresult-safe\b"))
    assert console_errors == []


def test_an_empty_message_is_refused_beside_the_field(page):
    page.goto("/")
    with page.expect_response(lambda response: response.request.method == "POST") as answer:
        classify(page, "   ", keyword="flood")
    assert answer.value.status == 400

    field = page.locator(".field").filter(has=page.get_by_label("Message"))
    expect(field).to_have_class(re.compile(r"\bfield-invalid\b"))
    expect(field.locator(".errorlist")).to_have_text("This field is required.")
    message = page.get_by_label("Message")
    expect(message).to_have_attribute("aria-invalid", "true")
    expect(message).to_have_accessible_description(re.compile("This field is required"))
    expect(page.get_by_role("status")).to_have_count(0)  # no verdict
    expect(page.get_by_label("Keyword")).to_have_value("flood")


def test_the_old_index_page_posts_to_predict(page):
    page.goto("/index")
    expect(page.get_by_role("heading", level=1)).to_have_text("Is this post about a real disaster?")
    # A page cached from the Flask app sent its form to /predict; that address still answers.
    page.locator("form.tweet-form").evaluate("form => form.setAttribute('action', '/predict')")
    with page.expect_response(re.compile(r"/predict$")) as answer:
        classify(page, DISASTER_TWEET)
    assert answer.value.status == 200
    expect(page.get_by_role("status").get_by_role("heading")).to_have_text("Disaster")


def test_opening_predict_goes_to_the_form(page):
    page.goto("/predict")
    assert page.url.endswith("/") and not page.url.endswith("/predict")
    expect(page.get_by_role("button", name="Classify")).to_be_visible()
