"""Where a CSV scoring job's time goes: its stages one after another, then the whole job, in
one process against the database of DATA_DIR (bench/jobs.py runs it on a copy).

    DATA_DIR=... python -m bench.jobs_profile [--data CSV] [--rows 100000] [--repeated]

Prints one JSON line: each stage's wall and CPU seconds (CPU of this process and of the scoring
processes it forked and waited for), their sum, and `csv_job_score` end to end.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "disaster_site.settings")
django.setup()

from django.conf import settings  # noqa: E402

from bench.jobs import csv_build  # noqa: E402
from ml.data import read_csv  # noqa: E402
from predictor import csv_scoring  # noqa: E402
from predictor.active_model import active_model  # noqa: E402
from predictor.models import Job, JobFile, JobKind, JobStatus, Prediction  # noqa: E402


def _cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


@contextmanager
def timed(stages: dict, name: str) -> Iterator[None]:
    wall, cpu = time.perf_counter(), _cpu()
    yield
    stages[name] = {"wall_s": time.perf_counter() - wall, "cpu_s": _cpu() - cpu}


def _job(data: bytes) -> Job:
    job = Job.objects.create(kind=JobKind.CSV_SCORING, status=JobStatus.RUNNING, stage="profile")
    JobFile.objects.create(
        job=job, role=JobFile.Role.INPUT, name="profile.csv", size=len(data), data=data
    )
    return job


def profile(data: bytes) -> dict:
    """The stages as csv_job_score runs them, one at a time, then csv_job_score itself."""
    stages: dict[str, dict] = {}
    before = Prediction.objects.count()
    size = max(1, settings.CSV_CHUNK_ROWS)
    processes = settings.CSV_SCORING_PROCESSES
    with timed(stages, "parse"):
        table = csv_scoring.csv_table_read(data, max_rows=settings.CSV_MAX_ROWS)
    with timed(stages, "model"):
        current = active_model.get()
    starts = range(0, len(table.rows), size)
    chunks = [table.tweets[start : start + size] for start in starts]
    scorer = csv_scoring._chunk_scorer(current.model, table.tweets, processes, size)
    with timed(stages, "score"), scorer as scoring:
        scored = list(scoring)
    job = _job(data)
    with timed(stages, "store"):
        stored = [
            csv_scoring._chunk_store(tweets, probabilities, version=current.version, job=job)
            for tweets, probabilities in zip(chunks, scored, strict=True)
        ]
    with timed(stages, "write"):
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([*table.header, *csv_scoring.RESULT_COLUMNS])
        for start, (ids, labels), probabilities in zip(starts, stored, scored, strict=True):
            writer.writerows(
                [*row, pk, label, repr(p), current.version.name]
                for row, pk, label, p in zip(
                    table.rows[start : start + size],
                    ids,
                    labels,
                    probabilities.tolist(),
                    strict=True,
                )
            )
        answer = out.getvalue().encode("utf-8")
    with timed(stages, "save_answer"):
        JobFile.objects.create(
            job=job, role=JobFile.Role.RESULT, name="a.csv", size=len(answer), data=answer
        )
    whole: dict[str, dict] = {}
    with timed(whole, "job"):
        result = csv_scoring.csv_job_score(job=_job(data), progress=_no_progress)
    return {
        "rows": len(table.rows),
        "chunk_rows": size,
        "store_rows": csv_scoring.STORE_ROWS,
        "processes": processes,
        "predictions_before": before,
        "stages": stages,
        "stages_wall_s": sum(s["wall_s"] for s in stages.values()),
        "stages_cpu_s": sum(s["cpu_s"] for s in stages.values()),
        "job": whole["job"] | {"rows": result["rows"]},
    }


def _no_progress(stage: str, percent: int) -> None:
    """csv_job_score's progress callback: nobody watches here."""


def main(argv: list[str] | None = None, *, emit: Callable[[str], None] = print) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(settings.TRAIN_DATA))
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeated", action="store_true", help="texts repeat (no unique token)")
    args = parser.parse_args(argv)
    data = csv_build(read_csv(args.data), args.rows, unique=not args.repeated)
    emit(json.dumps(profile(data)))


if __name__ == "__main__":
    main()
