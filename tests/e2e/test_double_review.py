"""Double review in a real browser, on a server that sends every first review back to the queue
(DOUBLE_REVIEW_SHARE=1): a reviewer labels a tweet, a second reviewer sees it marked "Second
review" and disagrees, the superuser resolves the conflict; axe-core on the pages on the way."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.e2e import browser as e2e
from tests.live_server import LiveServer, start_server

pytestmark = pytest.mark.e2e

HEADING = re.compile(r"^Prediction #(\d+): is this about a real disaster\?$")


@pytest.fixture(scope="module")
def double_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_server(
        tmp_path_factory.mktemp("e2e-double-review"), extra_env={"DOUBLE_REVIEW_SHARE": "1"}
    )
    try:
        e2e.users_create(live)
        e2e.manage_ok(
            live,
            "shell",
            "-c",
            "from django.contrib.auth.models import Group, User\n"
            f"second = User.objects.create_user('reviewer2', password={e2e.PASSWORD!r}, "
            "is_staff=True)\n"
            "second.groups.add(Group.objects.get(name='Reviewers'))\n",
        )
        yield live
    finally:
        live.stop()


@pytest.fixture
def open_page(chromium, double_server: LiveServer, console_errors: list[str]) -> Iterator:
    """A factory of pages signed in as a user, each in its own context (its own cookies)."""
    contexts = []

    def open_as(username: str):
        context = chromium.new_context(
            base_url=f"http://127.0.0.1:{double_server.port}", viewport=e2e.VIEWPORT
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.on(
            "console",
            lambda message: (
                console_errors.append(message.text) if message.type == "error" else None
            ),
        )
        page.on("pageerror", lambda error: console_errors.append(f"uncaught: {error}"))
        e2e.login(page, username)
        expect(page).to_have_url(re.compile(r"/admin/$"))
        return page

    yield open_as
    for context in contexts:
        context.close()


def shown_id(page) -> int:
    heading = page.locator("#review-heading")
    expect(heading).to_have_text(HEADING)
    return int(HEADING.match(heading.inner_text()).group(1))


def assert_accessible(page, name: str) -> None:
    violations = e2e.axe_violations(page)
    assert not violations, f"axe-core on {name} ({page.url}):\n{e2e.axe_report(violations)}"


def test_a_second_reviewer_disagrees_and_staff_resolve_it(double_server, open_page, console_errors):
    (prediction_id,) = e2e.predictions_create(
        double_server, ["Bridge collapsed on the highway after the storm"]
    )
    first = open_page("reviewer")
    first.goto("/admin/predictor/prediction/review/")
    assert shown_id(first) == prediction_id
    expect(first.locator("#review-second")).to_have_count(0)
    first.keyboard.press("d")
    expect(first.locator(".messagelist .success")).to_contain_text(f"#{prediction_id} marked")
    # Drawn for a second review: never shown to its first reviewer again.
    expect(first.get_by_role("heading", name="Nothing left to review")).to_be_visible()

    second = open_page("reviewer2")
    second.goto("/admin/predictor/prediction/review/")
    assert shown_id(second) == prediction_id
    expect(second.locator("#review-second")).to_contain_text("Second review")
    expect(second.locator("#review-text")).to_contain_text("Bridge collapsed")
    assert_accessible(second, "the queue's second review")
    second.get_by_role("button", name="Not a disaster").click()
    expect(second.locator(".messagelist .success")).to_contain_text(f"#{prediction_id} marked")

    staff = open_page("admin")
    staff.goto("/admin/predictor/prediction/dashboard/")
    pairs = staff.get_by_role("table", name=re.compile("^Agreement per pair of reviewers"))
    row = pairs.get_by_role("row", name=re.compile("reviewer and reviewer2"))
    expect(row).to_contain_text("0.0%")
    expect(staff.locator("#double-review")).to_contain_text("In conflict")
    assert_accessible(staff, "the dashboard")

    staff.get_by_role("link", name="Resolve the conflicts").click()
    expect(staff).to_have_title(re.compile("^Conflicts"))
    conflict = staff.locator(f"#conflict-{prediction_id}")
    expect(conflict.locator(".conflict-first")).to_contain_text("Disaster")
    expect(conflict.locator(".conflict-first")).to_contain_text("by reviewer,")
    expect(conflict.locator(".conflict-second")).to_contain_text("Not a disaster")
    expect(conflict.locator(".conflict-second")).to_contain_text("by reviewer2")
    assert_accessible(staff, "the conflicts page")

    staff.get_by_role("button", name=f"Resolve #{prediction_id} as Not a disaster").click()
    expect(staff.locator(".messagelist .success")).to_contain_text(
        f"#{prediction_id} resolved as “Not a disaster”."
    )
    expect(staff.locator(f"#conflict-{prediction_id}")).to_have_count(0)
    assert_accessible(staff, "the conflicts page, empty")
    label = staff.request.get(f"/api/predictions/{prediction_id}/").json()["true_label"]
    assert label == "not_disaster"

    assert console_errors == []

    # The reviewers group may not resolve: the page is forbidden to them (the browser logs the
    # 403 it was meant to get).
    assert second.goto("/admin/predictor/prediction/conflicts/").status == 403
