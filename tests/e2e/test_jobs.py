"""Background jobs in a real browser, with a real task worker: the admin's "Train a new version"
-> the job's page follows the training's progress and ends with the gate's report; the upload
page -> the job's page -> the answer file; a bad file's error and "Start again"; the page without
JavaScript (a Refresh link); and axe-core on each of these pages."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from playwright.sync_api import expect

from tests.e2e.browser import DISASTER_TWEET, SAFE_TWEET, axe_report, axe_violations, login

pytestmark = pytest.mark.e2e

JOB_PAGE = re.compile(r"/jobs/(\d+)/$")
# A job takes a few seconds on the sample data; the worker looks for tasks twice a second.
JOB_TIMEOUT_MS = 60_000

# Runs before the page's own scripts on every load of the context's pages (as DevTools does, so
# the site's CSP does not apply): keeps what the progress text said in sessionStorage, which
# outlives the reload at the job's end.
RECORD_PROGRESS = """
document.addEventListener("DOMContentLoaded", () => {
  const text = document.getElementById("job-progress-text");
  if (!text) return;
  const seen = () => JSON.parse(sessionStorage.getItem("job-progress-seen") || "[]");
  const record = () => {
    const now = [document.getElementById("job-status").textContent,
                 document.getElementById("job-bar").value,
                 text.textContent.replace(/\\s+/g, " ").trim()];
    sessionStorage.setItem("job-progress-seen", JSON.stringify([...seen(), now]));
  };
  record();
  new MutationObserver(record).observe(document.getElementById("job"),
    {subtree: true, childList: true, characterData: true, attributes: true});
});
"""


def rows_csv(rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


TWEETS = [
    {"ref": "a1", "text": DISASTER_TWEET, "keyword": "wildfire", "note": "first"},
    {"ref": "a2", "text": SAFE_TWEET, "keyword": "", "note": "second, with a comma"},
    {
        "ref": "a3",
        "text": "Flood waters rise in the valley, roads closed",
        "keyword": "flood",
        "note": "",
    },
]


def upload(page, name: str, data: bytes) -> int:
    """Send a file through the upload page (reached from the site's navigation); the job's id."""
    page.goto("/")
    page.get_by_role("navigation", name="Site").get_by_role("link", name="Score a CSV file").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Score a CSV file")
    page.get_by_label("CSV file").set_input_files(
        {"name": name, "mimeType": "text/csv", "buffer": data}
    )
    page.get_by_role("button", name="Score the file").click()
    expect(page).to_have_url(JOB_PAGE)
    return int(JOB_PAGE.search(page.url).group(1))


def assert_accessible(page, name: str) -> None:
    violations = axe_violations(page)
    assert not violations, f"axe-core on {name} ({page.url}):\n{axe_report(violations)}"


def test_train_from_the_admin_shows_the_progress_then_the_gates_report(
    server, page, console_errors
):
    active = server.request("GET", "/readyz")[1]["model_version"]
    page.context.add_init_script(RECORD_PROGRESS)
    login(page, "admin")
    page.goto("/admin/predictor/modelversion/")
    page.get_by_role("button", name="Train a new version").click()

    expect(page).to_have_url(JOB_PAGE)
    job = int(JOB_PAGE.search(page.url).group(1))
    expect(page.locator(".message-success")).to_contain_text(f"Training queued as job #{job}")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Training job #{job}")
    expect(page.get_by_label("Progress")).to_be_visible()
    expect(page.get_by_role("link", name="Refresh")).to_be_visible()
    assert_accessible(page, "a training job's page while it runs")

    # The script reloads the page when the job ends: then the gate's report is there.
    report = page.locator(".training-report")
    expect(report).to_be_visible(timeout=JOB_TIMEOUT_MS)
    expect(page.locator("#job-status")).to_have_text("Succeeded")
    expect(page.get_by_label("Progress")).to_have_attribute("value", "100")
    # The sample's evaluation set is too small for the gate: the version is kept, not activated.
    heading = report.get_by_role("heading")
    expect(heading).to_have_text(re.compile(r"^v\d+ stored \(not active\)$"))
    expect(report.locator(".gate-reason")).to_contain_text("too few evaluation rows")
    expect(report.get_by_role("table")).to_contain_text(f"{active} (active)")
    expect(page.get_by_role("link", name="Refresh")).to_have_count(0)
    assert server.request("GET", "/readyz")[1]["model_version"] == active

    # While it ran, the script moved the bar and the text without reloading the page.
    seen = json.loads(page.evaluate("() => sessionStorage.getItem('job-progress-seen')"))
    running = [(bar, text) for status, bar, text in seen if status == "Running"]
    assert any(0 < bar < 100 for bar, _ in running), seen
    assert any(text.endswith(f"{bar}%") and ":" in text for bar, text in running), seen
    assert_accessible(page, "a training job's report")
    assert console_errors == []


def test_upload_a_csv_file_then_download_the_answers(server, page, console_errors):
    login(page, "reviewer")
    data = rows_csv(TWEETS)
    job = upload(page, "tweets.csv", data)
    expect(page.get_by_role("heading", level=1)).to_have_text(f"CSV scoring job #{job}")

    result = page.locator(".job-result")
    expect(result.get_by_role("heading")).to_have_text("3 rows scored", timeout=JOB_TIMEOUT_MS)
    with page.expect_download() as download:
        result.get_by_role("link", name="Download tweets-scored.csv").click()
    assert download.value.suggested_filename == "tweets-scored.csv"
    with open(download.value.path(), encoding="utf-8", newline="") as answer:
        rows = list(csv.DictReader(answer))
    # Every row in order, its own columns first, then the model's answer.
    assert list(rows[0]) == [
        *TWEETS[0],
        "prediction_id",
        "label",
        "probability",
        "model_version",
    ]
    assert [{key: row[key] for key in TWEETS[0]} for row in rows] == TWEETS
    assert rows[0]["label"] == "disaster" and rows[1]["label"] == "not_disaster"
    disasters = sum(row["label"] == "disaster" for row in rows)
    expect(result).to_contain_text(re.compile(rf"Disaster\s*{disasters}\b"))
    expect(result).to_contain_text(re.compile(rf"Not a disaster\s*{3 - disasters}\b"))
    assert_accessible(page, "a CSV job's result")
    assert console_errors == []


def test_a_bad_file_fails_with_its_line_and_can_be_started_again(page, console_errors):
    login(page, "reviewer")
    job = upload(page, "notes.csv", b"note,keyword\nhello,world\n")
    failure = page.locator(".job-failure")
    expect(failure).to_contain_text("line 1: no text column", timeout=JOB_TIMEOUT_MS)
    expect(failure).to_contain_text("Nothing from this file was stored.")
    assert_accessible(page, "a failed job's page")

    failure.get_by_role("button", name="Start again").click()
    expect(page.locator(".message-success")).to_contain_text(f"Job #{job} started again as job #")
    expect(page.get_by_role("link", name=f"job #{job}")).to_be_visible()
    # The same file fails the same way: the error is the file's, not the worker's.
    expect(page.locator(".job-failure")).to_contain_text(
        "line 1: no text column", timeout=JOB_TIMEOUT_MS
    )
    assert console_errors == []


def test_the_upload_page_and_its_error_are_accessible(page):
    login(page, "reviewer")
    page.goto("/upload/")
    expect(page.get_by_label("CSV file")).to_have_attribute("accept", ".csv,text/csv")
    expect(page.locator(".columns-help")).to_contain_text("text (required)")
    assert_accessible(page, "the upload page")
    page.get_by_role("button", name="Score the file").click()  # no file
    expect(page.locator(".errorlist")).to_contain_text("This field is required.")
    assert_accessible(page, "the upload page's error")


def test_without_javascript_the_refresh_link_follows_the_job(chromium, server):
    context = chromium.new_context(
        base_url=f"http://127.0.0.1:{server.port}", java_script_enabled=False
    )
    try:
        page = context.new_page()
        login(page, "reviewer")
        upload(page, "tweets.csv", rows_csv(TWEETS[:1]))
        refresh = page.get_by_role("link", name="Refresh")
        # The page stays as it was until asked: the link reloads it, until the result shows.
        for _ in range(60):
            if page.locator(".job-result").count():
                break
            expect(refresh).to_be_visible()
            page.wait_for_timeout(500)
            refresh.click()
        expect(page.locator(".job-result").get_by_role("heading")).to_have_text("1 row scored")
        expect(refresh).to_have_count(0)
    finally:
        context.close()


def test_the_admin_lists_the_jobs_with_their_progress(page, console_errors):
    login(page, "reviewer")
    job = upload(page, "tweets.csv", rows_csv(TWEETS[:2]))
    expect(page.locator(".job-result")).to_be_visible(timeout=JOB_TIMEOUT_MS)
    page.goto("/admin/")
    page.locator("#background-jobs").get_by_role("link", name="Jobs").click()
    row = page.locator("#result_list tbody tr").filter(
        has=page.get_by_role("link", name=f"#{job}", exact=True)
    )
    expect(row).to_contain_text("CSV scoring")
    expect(row).to_contain_text("Succeeded")
    expect(row.get_by_label(f"Job #{job} progress")).to_have_attribute("value", "100")
    assert_accessible(page, "the admin's job list")
    row.get_by_role("link", name=f"#{job}", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"CSV scoring job #{job}")
    assert console_errors == []
