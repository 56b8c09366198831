"""Background jobs run by real worker processes (`manage.py db_worker`) beside a real server,
seen through the HTTP API only: training and CSV scoring end to end, one training at a time,
workers killed mid-job (SIGKILL), and on PostgreSQL two workers sharing one queue."""

from __future__ import annotations

import csv
import io
import json
import os
import random
import time
from pathlib import Path

import pytest

from tests.live_server import SAMPLE_DATA, LiveServer
from tests.worker.conftest import STALE_SECONDS, Api, Workers, models_dir_files

pytestmark = pytest.mark.live

RESULT_COLUMNS = ["prediction_id", "label", "probability", "model_version"]
TWEET_COLUMNS = ("text", "keyword", "location")


def training_data(tmp_path: Path) -> Path:
    """Data a training spends seconds on: the shared set (TRAIN_DATA) when it is there, else the
    sample repeated with a different word in each copy (so that no copy is a duplicate)."""
    shared = Path(os.environ.get("TRAIN_DATA", ""))
    if shared.is_file() and shared != SAMPLE_DATA:
        return shared
    with open(SAMPLE_DATA, newline="", encoding="utf-8") as source:
        rows = list(csv.DictReader(source))
    path = tmp_path / "bigger_train.csv"
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        for copy in range(40):
            for row in rows:
                writer.writerow(
                    {**row, "id": f"{copy}-{row['id']}", "text": f"{row['text']} w{copy}"}
                )
    return path


def csv_file(rows: int, *, seed: int = 0) -> bytes:
    """A file to score: tweets from the sample (or the shared set) in a new order, with a column
    of our own (`row`) that must come back unchanged."""
    shared = Path(os.environ.get("TRAIN_DATA", ""))
    source = shared if shared.is_file() else SAMPLE_DATA
    with open(source, newline="", encoding="utf-8") as handle:
        # One line per row (no line break in a field): row i is on line i + 2.
        tweets = [
            row
            for row in csv.DictReader(handle)
            if not any("\n" in row[name] or "\r" in row[name] for name in TWEET_COLUMNS)
        ]
    draw = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["row", "text", "keyword", "location"])
    for number in range(rows):
        tweet = draw.choice(tweets)
        writer.writerow([f"r{number}", tweet["text"], tweet["keyword"], tweet["location"]])
    return out.getvalue().encode("utf-8")


def versions_and_artifacts(api: Api, server: LiveServer) -> tuple[str, list[str], set[str]]:
    """(the active version, every version, the files in the model directory)."""
    return api.active_version(), api.versions(), models_dir_files(server)


def test_a_training_job_runs_end_to_end_with_rising_progress(api: Api, workers: Workers):
    active, versions = api.active_version(), api.versions()

    status, job = api.call("POST", "/api/models/")
    assert status == 202, job
    assert (job["kind"], job["status"], job["requested_by"]) == ("training", "queued", "operator")
    assert job["url"].endswith(f"/api/jobs/{job['id']}/")

    workers.start()
    done, seen = api.wait_for(job["id"], every=0.05)

    assert done["status"] == "succeeded", (done, workers.log())
    assert (done["stage"], done["progress"], done["error"]) == ("done", 100, "")
    # Status only moves forward, progress never falls, and stages were shown on the way.
    order = ["queued", "running", "succeeded"]
    statuses = [order.index(reading["status"]) for reading in seen]
    assert statuses == sorted(statuses)
    progress = [reading["progress"] for reading in seen]
    assert progress == sorted(progress), progress
    stages = [(r["stage"], r["progress"]) for r in seen if r["status"] == "running"]
    assert any(0 < figure < 100 for _, figure in stages), stages
    assert len({stage for stage, _ in stages}) >= 2, stages
    assert done["started"] and done["finished"] and done["started"] <= done["finished"]

    result = done["result"]
    new = result["version"]
    assert new not in versions and api.versions()[0] == new
    # The gate compared it with the version active before, and said why it decided so.
    assert result["active_version"] == active
    assert result["decision"] in {"promoted", "refused"}, result
    assert result["activated"] == (result["decision"] == "promoted")
    assert result["comparison"] and result["reason"]
    if result["activated"]:
        assert api.active_version() == new
    else:
        assert api.active_version() != new


def test_a_second_training_is_refused_while_one_is_queued(api: Api, workers: Workers):
    status, first = api.call("POST", "/api/models/")
    assert status == 202, first
    status, refused = api.call("POST", "/api/models/")
    assert status == 409, refused
    assert refused["job"]["id"] == first["id"]
    assert refused["job"]["status"] == "queued"
    assert refused["job"]["url"] == first["url"]
    assert [job["id"] for job in api.unfinished_jobs()] == [first["id"]]

    workers.start()
    done, _ = api.wait_for(first["id"])
    assert done["status"] == "succeeded", (done, workers.log())
    # The refused request queued nothing.
    assert api.unfinished_jobs() == []


def test_a_csv_job_scores_stores_and_answers_every_row_in_order(api: Api, workers: Workers):
    data = csv_file(300)
    before = api.prediction_count()

    status, job = api.call("POST", "/api/predictions/csv/", csv=data)
    assert status == 202, job
    assert (job["kind"], job["status"]) == ("csv_scoring", "queued")

    workers.start(CSV_CHUNK_ROWS="64")  # several chunks, and so several scoring processes
    done, _ = api.wait_for(job["id"])
    assert done["status"] == "succeeded", (done, workers.log())
    result = done["result"]
    assert result["rows"] == 300
    assert sum(result["labels"].values()) == 300
    assert result["model_version"] == api.active_version()

    status, answer = api.call("GET", f"/api/jobs/{job['id']}/download/")
    assert status == 200, answer
    sent = list(csv.reader(io.StringIO(data.decode())))
    got = list(csv.reader(io.StringIO(answer)))
    assert got[0] == [*sent[0], *RESULT_COLUMNS]
    assert len(got) == len(sent)
    assert [row[:4] for row in got[1:]] == sent[1:]  # the input's rows, columns and order

    assert api.prediction_count() == before + 300
    labels = {"disaster": 0, "not_disaster": 0}
    for row in got[1:]:
        prediction_id, label, probability, version = row[4:]
        stored = api.get(f"/api/predictions/{prediction_id}/")
        assert stored["source"] == "csv"
        assert stored["text"] == row[1].strip()
        assert (stored["label"], stored["model_version"]) == (label, version)
        assert stored["probability"] == pytest.approx(float(probability), abs=1e-6)
        labels[label] += 1
    assert labels == result["labels"]


def test_a_bad_csv_file_fails_naming_the_line_and_stores_nothing(api: Api, workers: Workers):
    lines = csv_file(300).decode().split("\n")
    lines[250] = "r249,,,"  # line 251 of the file: a blank text, after several chunks
    before = api.prediction_count()

    status, job = api.call("POST", "/api/predictions/csv/", csv="\n".join(lines).encode())
    assert status == 202, job
    workers.start(CSV_CHUNK_ROWS="64")
    done, _ = api.wait_for(job["id"])

    assert done["status"] == "failed", (done, workers.log())
    assert done["error"].startswith("line 251: text:"), done["error"]
    assert done["result"] is None
    assert api.prediction_count() == before
    status, _ = api.call("GET", f"/api/jobs/{job['id']}/download/")
    assert status == 404


def test_a_worker_killed_during_training_leaves_the_old_version_and_a_retry_succeeds(
    api: Api, server: LiveServer, workers: Workers, tmp_path: Path
):
    active, versions, artifacts = versions_and_artifacts(api, server)

    status, job = api.call("POST", "/api/models/")
    assert status == 202, job
    worker = workers.start(TRAIN_DATA=str(training_data(tmp_path)))
    api.wait_for(
        job["id"], lambda j: j["stage"] == "training" or j["status"] in ("succeeded", "failed")
    )
    # Still one training at a time while it runs.
    status, refused = api.call("POST", "/api/models/")
    assert status == 409, refused
    assert (refused["job"]["id"], refused["job"]["status"]) == (job["id"], "running")
    worker.kill()
    killed = api.job(job["id"])
    assert (killed["status"], killed["stage"]) == ("running", "training"), killed

    failed, seen = api.wait_for(job["id"], timeout=STALE_SECONDS + 30)
    # Failed by the reaping of a read, once the heartbeat was older than the limit.
    assert failed["status"] == "failed", failed
    assert "no heartbeat" in failed["error"]
    assert all(reading["status"] == "running" for reading in seen[:-1])
    assert api.active_version() == active
    assert api.versions() == versions
    assert models_dir_files(server) == artifacts

    status, retry = api.call("POST", f"/api/jobs/{job['id']}/retry/")
    assert status == 202, retry
    assert (retry["retry_of"], retry["status"], retry["kind"]) == (job["id"], "queued", "training")
    workers.start()  # a fresh worker, trained on the sample: quick
    done, _ = api.wait_for(retry["id"])
    assert done["status"] == "succeeded", (done, workers.log())
    assert api.versions() == [done["result"]["version"], *versions]


def test_a_worker_killed_while_saving_the_artifact_leaves_no_file_behind(
    api: Api, server: LiveServer, workers: Workers
):
    active, versions, artifacts = versions_and_artifacts(api, server)

    status, job = api.call("POST", "/api/models/")
    assert status == 202, job
    worker = workers.start()
    # Kill the moment a new file shows in the model directory: the artifact is being written
    # (a hidden .tmp) or has just been renamed, before its version is stored.
    deadline = time.monotonic() + 90
    while models_dir_files(server) == artifacts:
        assert time.monotonic() < deadline and worker.process.poll() is None, workers.log()
        time.sleep(0.001)
    worker.kill()
    left = models_dir_files(server) - artifacts
    assert left, "the new file vanished before the kill"

    failed, _ = api.wait_for(job["id"], timeout=STALE_SECONDS + 30)
    assert failed["status"] == "failed", failed
    assert api.active_version() == active
    assert api.versions() == versions
    # The file outlives the reaping read (it was written after the last heartbeat); a later
    # read finds it older than the stale limit and removes it.
    deadline = time.monotonic() + STALE_SECONDS + 10
    while models_dir_files(server) != artifacts:
        assert time.monotonic() < deadline, (left, models_dir_files(server))
        api.job(job["id"])
        time.sleep(0.2)


def test_a_csv_job_killed_midway_keeps_none_of_its_rows(api: Api, workers: Workers):
    rows = 40_000
    before = api.prediction_count()
    status, job = api.call("POST", "/api/predictions/csv/", csv=csv_file(rows, seed=1))
    assert status == 202, job

    worker = workers.start(CSV_CHUNK_ROWS="500")
    api.wait_for(
        job["id"],
        lambda j: j["progress"] >= 15 or j["status"] in ("succeeded", "failed"),
        every=0.05,
    )
    worker.kill()
    killed = api.job(job["id"])
    stored = api.prediction_count() - before
    assert killed["status"] == "running", killed
    assert 0 < stored < rows, stored  # the kill landed half-way

    failed, _ = api.wait_for(job["id"], timeout=STALE_SECONDS + 30)
    assert failed["status"] == "failed", failed
    assert api.prediction_count() == before
    status, _ = api.call("GET", f"/api/jobs/{job['id']}/download/")
    assert status == 404


def test_two_workers_on_postgresql_run_every_job_exactly_once(
    api: Api, server: LiveServer, workers: Workers, database_url: str
):
    if not database_url:
        pytest.skip(
            "SQLite serialises its writers, so two workers never compete for a row there; this "
            "runs when the suite runs on PostgreSQL (DATABASE_URL)"
        )
    before = api.prediction_count()
    sizes = [100 + 37 * n for n in range(10)]
    files = [csv_file(size, seed=n) for n, size in enumerate(sizes)]
    jobs = []
    for data in files:
        status, job = api.call("POST", "/api/predictions/csv/", csv=data)
        assert status == 202, job
        jobs.append(job["id"])
    first, second = workers.start(), workers.start()

    for job_id in jobs:
        done, _ = api.wait_for(job_id)
        assert done["status"] == "succeeded", (done, workers.log())
    assert api.prediction_count() == before + sum(sizes)

    shown = server.manage(
        "shell",
        "--no-imports",
        "-c",
        "import json; from django_tasks_db.models import DBTaskResult;"
        "from predictor.models import Job, Prediction;"
        f"jobs = Job.objects.filter(pk__in={jobs});"
        "print(json.dumps({j.pk: {'workers': DBTaskResult.objects.get(id=j.task_id).worker_ids,"
        "'rows': Prediction.objects.filter(job=j).count(), 'result': j.result['rows']}"
        " for j in jobs}))",
    )
    assert shown.returncode == 0, shown.stderr
    runs = json.loads(shown.stdout)
    assert [runs[str(job_id)]["result"] for job_id in jobs] == sizes
    for run in runs.values():
        assert len(run["workers"]) == 1, run  # claimed once, by one worker
        assert run["rows"] == run["result"], run
    assert {run["workers"][0] for run in runs.values()} == {first.id, second.id}
