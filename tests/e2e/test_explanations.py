"""The model's reasons in the browser: the marked words on the form's result and in the review
queue, the blind-first preference (nothing shown until the answer, then the answered one's
reasons), and axe-core on each of these states."""

from __future__ import annotations

import re

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

QUEUE = "/admin/predictor/prediction/review/"
HEADING = re.compile(r"^Prediction #(\d+): is this about a real disaster\?$")
TERM = re.compile(r"^([+-]\d\.\d{3}) (.+) \((towards|away from) disaster\)$")


def assert_accessible(page, state: str) -> None:
    violations = axe_violations(page)
    assert not violations, f"axe-core on {state} ({page.url}):\n{axe_report(violations)}"


def listed_terms(panel) -> list[tuple[float, str, str]]:
    """(contribution, term, direction) of the panel's list, as a screen reader reads it."""
    terms = []
    for text in panel.locator(".why-terms li").all_inner_texts():
        match = TERM.match(" ".join(text.split()))
        assert match, text
        terms.append((float(match.group(1)), match.group(2), match.group(3)))
    return terms


def assert_marked(panel) -> None:
    """Some words marked in the tweet, each a listed term, ▲ towards and ▼ away."""
    marks = panel.locator(".explained-text mark")
    expect(marks.first).to_be_visible()
    listed = {term.lower(): direction for _, term, direction in listed_terms(panel)}
    for mark in marks.all():
        sign = mark.locator(".why-sign").inner_text()
        word = mark.inner_text().removesuffix(sign).strip().lower()
        assert word in listed, (word, listed)
        assert sign == ("▲" if listed[word] == "towards" else "▼")


def shown_id(page) -> int:
    heading = page.locator("#review-heading")
    expect(heading).to_have_text(HEADING)
    return int(HEADING.match(heading.inner_text()).group(1))


def test_the_form_result_marks_the_words_behind_the_verdict(page, console_errors):
    page.goto("/")
    page.get_by_label("Message").fill(DISASTER_TWEET)
    page.get_by_role("button", name="Classify").click()

    panel = page.get_by_role("region", name="Why the model said this")
    expect(panel).to_be_visible()
    assert_marked(panel)
    terms = listed_terms(panel)
    sizes = [abs(value) for value, _, _ in terms]
    assert 0 < len(terms) <= 10 and sizes == sorted(sizes, reverse=True)
    expect(panel.locator(".why-legend")).to_contain_text("pushed towards")
    assert_accessible(page, "the form's result with its explanation")
    assert console_errors == []


def test_the_queue_explains_unless_blind_first(server, page, console_errors):
    predictions_create(
        server,
        [
            "Wildfire near the highway, evacuations ordered for two towns",
            "Earthquake shakes the coast, buildings collapsed downtown",
        ],
    )
    login(page, "reviewer")
    page.goto(QUEUE)
    card = page.locator(".review-card").filter(has=page.locator("#review-heading"))
    assert_marked(card)
    assert_accessible(page, "the review queue with the model's reasons")

    try:
        page.get_by_role("button", name="Hide reasons until I answer").click()
        expect(page.locator("#review-preference")).to_contain_text("Blind first")
        first = shown_id(page)
        expect(page.locator("mark")).to_have_count(0)
        expect(page.locator(".why-terms")).to_have_count(0)
        assert_accessible(page, "the review queue, blind first")

        page.get_by_role("button", name="Not a disaster").click()
        answered = page.get_by_role("region", name=re.compile(rf"for #{first}$"))
        expect(answered).to_be_visible()
        expect(answered).to_contain_text("Why the model said")
        assert_marked(answered)
        assert shown_id(page) != first
        # The next one is still blind: the only marks are the answered one's.
        expect(card.locator("mark")).to_have_count(0)
        assert_accessible(page, "the review queue after a blind answer")
    finally:
        page.goto(QUEUE)
        button = page.get_by_role("button", name="Show reasons before I answer")
        if button.count():
            button.click()

    expect(page.get_by_role("button", name="Hide reasons until I answer")).to_be_visible()
    assert_marked(card)
    assert console_errors == []
