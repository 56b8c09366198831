"""The jobs bench's own parts: the CSV files it uploads, its job timings and summaries, the
worker it relies on, and how its section lands in results.md."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from bench import jobs
from bench.wrk import wrk_command
from ml.data import Dataset
from predictor.csv_scoring import csv_table_read

DATA = Dataset(
    text=("Forest fire near La Ronge", "What a lovely day", 'He said "fire", twice, loudly'),
    keyword=("wildfire", "", "fire"),
    location=("Canada", "", "Paris, France"),
    target=(1, 0, 0),
)


def rows_of(body: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body.decode("utf-8"))))


def test_a_repeated_file_cycles_through_the_data_in_order() -> None:
    rows = rows_of(jobs.csv_build(DATA, 7, unique=False))
    assert [r["id"] for r in rows] == [str(i) for i in range(1, 8)]
    assert [r["text"] for r in rows] == [*DATA.text, *DATA.text, DATA.text[0]]
    assert [r["location"] for r in rows[:3]] == list(DATA.location)


def test_a_unique_file_repeats_no_text_and_keeps_each_tweet_before_its_token() -> None:
    rows = rows_of(jobs.csv_build(DATA, 300, unique=True))
    texts = [r["text"] for r in rows]
    assert len(set(texts)) == 300
    assert all(t.startswith(DATA.text[i % 3] + " u") for i, t in enumerate(texts))


@pytest.mark.parametrize("unique", [False, True])
def test_the_service_reads_the_built_file_as_it_was_built(unique: bool) -> None:
    body = jobs.csv_build(DATA, 10, unique=unique)
    table = csv_table_read(body, max_rows=10)
    assert table.header == ["id", "keyword", "location", "text"]
    assert [t.text for t in table.tweets] == [r["text"] for r in rows_of(body)]
    assert table.tweets[2].location == "Paris, France"


def test_job_seconds_from_the_api_timestamps() -> None:
    job = {
        "created": "2026-11-30T02:00:00.000000Z",
        "started": "2026-11-30T02:00:00.400000Z",
        "finished": "2026-11-30T02:00:09.900000+00:00",
    }
    assert jobs.job_seconds(job) == pytest.approx({"queued_s": 0.4, "run_s": 9.5})
    assert jobs.job_seconds({"created": job["created"], "started": None, "finished": None}) == {
        "queued_s": None,
        "run_s": None,
    }


def run(name: str, end_to_end_s: float, *, status: str = "succeeded", **kw) -> jobs.JobRun:
    fields = {
        "kind": "csv",
        "name": name,
        "rows": 100_000,
        "request_s": 0.5,
        "end_to_end_s": end_to_end_s,
        "status": status,
        "queued_s": 0.3,
        "run_s": end_to_end_s - 1,
        "predictions_before": 0,
    }
    return jobs.JobRun(**(fields | kw))


def test_rows_per_s_only_for_a_job_that_succeeded() -> None:
    assert run("a", 8.0).rows_per_s == 12_500
    assert run("a", 8.0).job_rows_per_s == pytest.approx(100_000 / 7)
    assert run("a", 8.0, status="failed").rows_per_s is None
    assert run("t", 30.0, rows=None, kind="training").rows_per_s is None


def test_the_summary_takes_the_median_per_file_and_counts_failures() -> None:
    runs = [
        run("100k-unique", 10.0, other_load_pct=3.0),
        run("100k-unique", 12.0),
        run("100k-unique", 20.0),
        run("100k-unique", 99.0, status="failed"),
        run("10k-repeated", 2.0, rows=10_000),
        run("t", 30.0, rows=None, kind="training"),
    ]
    summary = jobs.csv_summary(runs)
    assert list(summary) == ["100k-unique", "10k-repeated"]
    row = summary["100k-unique"]
    assert (row["runs"], row["failed"], row["end_to_end_s"]) == (4, 1, 12.0)
    assert row["rows_per_s"] == pytest.approx(100_000 / 12)
    assert row["other_load_pct"] == 3.0
    assert summary["10k-repeated"]["rows_per_s"] == 5_000
    table = jobs.csv_table(summary)
    assert table[1][0] == "100k-unique (1 FAILED)"
    assert table[2][3] == "5,000"
    assert len(table[0]) == len(table[1])


def test_the_worker_is_make_serves_once_the_makefile_has_the_switch() -> None:
    before = "serve: model\n\tgunicorn --config gunicorn.conf.py\n"
    after = 'serve: model\n\tRUN_WORKER="$(RUN_WORKER)" scripts/serve.sh\n'
    assert jobs.worker_mode("auto", before) == "own"
    assert jobs.worker_mode("auto", after) == "serve"
    assert jobs.worker_mode("own", after) == "own"
    repository = (Path(__file__).resolve().parents[2] / "Makefile").read_text()
    assert jobs.worker_mode("auto", repository) in {"own", "serve"}


def test_a_paced_load_passes_its_pause_to_the_script() -> None:
    paced = wrk_command(
        "http://x/", bodies=Path("b"), content_type="c", connections=4, duration_s=5, pause_ms=20
    )
    flat = wrk_command("http://x/", bodies=Path("b"), content_type="c", connections=4, duration_s=5)
    assert paced[-3:] == ["b", "c", "20"]
    assert flat[-2:] == ["b", "c"]
    assert "-c4" in paced and "-t2" in paced


def test_the_section_replaces_its_old_self_and_keeps_the_rest() -> None:
    text = "# Results\n\nintro\n\n## Background jobs\n\nold\n\n## Each round\n\ntable\n"
    new = jobs.section_replace(text, "## Background jobs", "## Background jobs\n\nnew\n")
    assert new == "# Results\n\nintro\n\n## Background jobs\n\nnew\n\n## Each round\n\ntable\n"
    assert jobs.section_replace(new, "## Background jobs", "## Background jobs\n\nnew\n") == new


def test_the_section_is_appended_when_missing_or_last() -> None:
    appended = jobs.section_replace("# Results\n\nintro\n", "## Jobs", "## Jobs\n\nfirst\n")
    assert appended == "# Results\n\nintro\n\n## Jobs\n\nfirst\n"
    assert jobs.section_replace(appended, "## Jobs", "## Jobs\n\nsecond\n") == (
        "# Results\n\nintro\n\n## Jobs\n\nsecond\n"
    )


def test_the_latency_table_puts_the_three_cases_side_by_side() -> None:
    cell = {"p50_ms": 2.0, "p99_ms": 9.04, "requests_per_s": 180.4, "errors": 0, "seconds": 10}
    table = jobs.latency_table({"none": cell, "csv": cell | {"p99_ms": 40.0}, "training": cell})
    assert table[0] == ["Single predictions", "no job", "100,000-row CSV job", "training job"]
    assert table[2] == ["p99 (ms)", "9.0", "40.0", "9.0"]


def test_the_cpu_ceiling_spreads_the_workers_cpu_over_the_cores() -> None:
    assert jobs.cpu_ceiling_rows_per_s(100_000, 20.0, 2) == 10_000
    assert jobs.cpu_ceiling_rows_per_s(100_000, None, 2) is None
