"""`make screenshots`: PNGs of the main pages for the README, taken in headless Chromium on a
throwaway `make serve` filled with two weeks of predictions of the bundled sample.

    python -m tests.e2e.screenshots docs/img
"""

from __future__ import annotations

import argparse
import csv
import re
import tempfile
from pathlib import Path

from tests.e2e import browser as e2e
from tests.live_server import SAMPLE_DATA, LiveServer, start_server

# Runs in `manage.py shell` on the server's database: spreads the predictions over the last two
# weeks (oldest first, as they were made) and has "admin" review about half of them, the
# reviewer siding with the sample's label. A picture needs history; the tests never do this.
HISTORY = """
import csv, random
from datetime import timedelta
from django.contrib.auth.models import User
from django.utils import timezone
from predictor import services
from predictor.models import Label, Prediction

rng = random.Random(10)
with open({sample!r}, newline="", encoding="utf-8") as sample:
    truth = {{row["text"]: row["target"] for row in csv.DictReader(sample)}}
admin = User.objects.get(username="admin")
now = timezone.now()
ids = list(Prediction.objects.order_by("id").values_list("id", flat=True))
ages = sorted((rng.triangular(0, 14, 3) for _ in ids), reverse=True)
for pk, age in zip(ids, ages):
    Prediction.objects.filter(pk=pk).update(created=now - timedelta(days=age))
for prediction in Prediction.objects.order_by("id"):
    if prediction.text in truth and rng.random() < 0.5:
        label = Label.DISASTER if truth[prediction.text] == "1" else Label.NOT_DISASTER
        services.prediction_review(
            predictions=Prediction.objects.filter(pk=prediction.pk),
            true_label=label, reviewer=admin, via="screenshots",
        )
"""


def sample_texts() -> list[str]:
    with open(SAMPLE_DATA, newline="", encoding="utf-8") as sample:
        return [row["text"] for row in csv.DictReader(sample)]


def history_create(server: LiveServer) -> None:
    """Predictions by two model versions (the second trained with the first's reviews)."""
    texts = sample_texts()
    half = len(texts) * 3 // 5
    e2e.predictions_create(server, texts[:half])
    e2e.manage_ok(server, "shell", "-c", HISTORY.format(sample=str(SAMPLE_DATA)))
    out = e2e.manage_ok(server, "retrain", "--force", "--reason", "screenshots")
    name = re.search(r"^(\S+) activated", out, re.MULTILINE).group(1)
    e2e.active_version_wait(server, name)
    e2e.predictions_create(server, texts[half:])
    e2e.manage_ok(server, "shell", "-c", HISTORY.format(sample=str(SAMPLE_DATA)))


def screenshots_take(server: LiveServer, out: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    saved = []
    with sync_playwright() as playwright:
        chromium = e2e.chromium_launch(playwright)
        try:
            context = chromium.new_context(
                base_url=f"http://127.0.0.1:{server.port}", viewport=e2e.VIEWPORT
            )
            page = context.new_page()

            page.goto("/")
            page.get_by_label("Keyword").fill("wildfire")
            page.get_by_label("Location").fill("B.C. Canada")
            page.get_by_label("Message").fill(e2e.DISASTER_TWEET)
            page.get_by_role("button", name="Classify").click()
            page.get_by_role("status").wait_for()
            saved.append(out / "home-result.png")
            page.screenshot(path=saved[-1], full_page=True)

            e2e.login(page, "admin")
            page.goto("/admin/predictor/prediction/review/")
            page.keyboard.press("d")  # one decision, so its confirmation shows
            page.locator(".messagelist").wait_for()
            saved.append(out / "review-queue.png")
            page.screenshot(path=saved[-1])

            page.goto("/admin/predictor/prediction/dashboard/?days=30")
            page.wait_for_load_state("load")
            saved.append(out / "dashboard.png")
            page.screenshot(path=saved[-1], full_page=True)
            saved.append(out / "dashboard-drift.png")
            page.locator("#drift").screenshot(path=saved[-1])

            page.goto("/admin/predictor/prediction/")
            saved.append(out / "admin-predictions.png")
            page.screenshot(path=saved[-1])

            page.goto("/upload/")
            saved.append(out / "upload.png")
            page.screenshot(path=saved[-1], full_page=True)

            # A training from the versions list's button, to the end of its job page.
            page.goto("/admin/predictor/modelversion/")
            page.get_by_role("button", name="Train a new version").click()
            page.locator(".training-report").wait_for(timeout=120_000)
            saved.append(out / "job-training.png")
            page.screenshot(path=saved[-1], full_page=True)
        finally:
            chromium.close()
    return saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder for the PNG files")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="disaster-screenshots-") as data_dir:
        server = start_server(Path(data_dir))
        try:
            e2e.users_create(server)
            history_create(server)
            for path in screenshots_take(server, args.out):
                print(f"saved {path}")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
