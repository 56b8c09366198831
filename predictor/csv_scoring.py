"""Scoring a CSV file in a background job: read and check every line first (a bad file stores
nothing), then score and store it chunk by chunk, and write the answer file.

The file's own columns go through unchanged; `text` is required, `keyword` and `location` are
optional; the answer adds RESULT_COLUMNS. Featurising text is Python-bound, so chunks are scored
in forked processes (CSV_SCORING_PROCESSES) that inherit the loaded model, while this process
stores the chunks already scored.
"""

from __future__ import annotations

import csv
import io
import multiprocessing
import signal
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import PurePath

import numpy as np
from django.conf import settings
from django.urls import reverse

from ml.model import TrainedModel
from predictor import selectors
from predictor.active_model import active_model
from predictor.errors import JobFailed, ModelUnavailable
from predictor.models import Job, JobFile, Label, ModelVersion, Source
from predictor.prediction_store import predictions_insert_for_job
from predictor.tweets import InvalidTweet, Tweet, tweet_clean

RESULT_COLUMNS = ("prediction_id", "label", "probability", "model_version")
TWEET_COLUMNS = ("text", "keyword", "location")
# Rows per INSERT when a chunk is stored. Each INSERT holds SQLite's write lock, which every
# single prediction the web workers store waits for, and the niced job may be descheduled while
# it holds it: 2,000-row INSERTs held it ~115-165 ms (p50) on a busy machine and single
# predictions' p99 rose past a second during a job; 500 rows hold it ~26 ms for ~0.4 s more CPU
# per 100,000 rows (bench/results.md).
STORE_ROWS = 500


@dataclass(frozen=True)
class CsvTable:
    """A checked file: its header, its rows as read, and each row's tweet."""

    header: list[str]
    rows: list[list[str]]
    tweets: list[Tweet]


def csv_table_read(data: bytes, *, max_rows: int) -> CsvTable:
    """Decode and check a whole file; JobFailed naming the line of the first problem."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise JobFailed(
            f"line {line:,}: the file is not UTF-8 text (byte {exc.object[exc.start]:#04x}); "
            "save it as CSV UTF-8"
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise JobFailed(f"line 1: the header cannot be read: {exc}") from None
    if not header:
        raise JobFailed("line 1: the file is empty; it needs a header with a text column")
    index = _column_index(header)
    width = len(header)
    rows: list[list[str]] = []
    tweets: list[Tweet] = []
    start = reader.line_num + 1
    try:
        for row in reader:
            if not row:  # a blank line
                start = reader.line_num + 1
                continue
            if len(rows) == max_rows:
                raise JobFailed(
                    f"line {start:,}: more than {max_rows:,} rows (CSV_MAX_ROWS); split the file"
                )
            if len(row) != width:
                raise JobFailed(f"line {start:,}: {len(row)} fields where the header has {width}")
            try:
                tweets.append(
                    tweet_clean(
                        text=row[index["text"]],
                        keyword=row[index["keyword"]] if "keyword" in index else "",
                        location=row[index["location"]] if "location" in index else "",
                    )
                )
            except InvalidTweet as exc:
                raise JobFailed(f"line {start:,}: {exc.field}: {exc.message}") from None
            rows.append(row)
            start = reader.line_num + 1
    except csv.Error as exc:
        raise JobFailed(f"line {start:,}: this line cannot be read as CSV: {exc}") from None
    if not rows:
        raise JobFailed("line 2: the file has a header but no rows")
    return CsvTable(header=header, rows=rows, tweets=tweets)


def _column_index(header: list[str]) -> dict[str, int]:
    names = [name.strip() for name in header]
    for name in (*TWEET_COLUMNS, *RESULT_COLUMNS):
        if names.count(name) > 1:
            raise JobFailed(f"line 1: the column {name} appears {names.count(name)} times")
    taken = [name for name in RESULT_COLUMNS if name in names]
    if taken:
        raise JobFailed(
            f"line 1: the column {taken[0]} is one the answer adds "
            f"({', '.join(RESULT_COLUMNS)}); rename or remove it"
        )
    if "text" not in names:
        raise JobFailed(
            "line 1: no text column; the header needs text (and may have keyword and location)"
        )
    return {name: names.index(name) for name in TWEET_COLUMNS if name in names}


def csv_job_score(*, job: Job, progress: Callable[[str, int], None]) -> dict[str, object]:
    """Score and store every row of a CSV job's file; the job's result (counts and where to
    download the answer). JobFailed for a bad file or when no model can serve; the caller
    then removes what was stored."""
    progress("reading the file", 1)
    upload = selectors.job_file(job=job, role=JobFile.Role.INPUT)
    if upload is None:
        raise JobFailed("the job's file is missing")
    table = csv_table_read(bytes(upload.data), max_rows=settings.CSV_MAX_ROWS)
    try:
        current = active_model.get()
    except ModelUnavailable as exc:
        raise JobFailed(f"no model can score the file: {exc}") from None
    version = current.version

    total = len(table.rows)
    size = max(1, settings.CSV_CHUNK_ROWS)
    starts = range(0, total, size)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*table.header, *RESULT_COLUMNS])
    disasters = 0
    progress("scoring and storing", 5)
    scorer = _chunk_scorer(current.model, table.tweets, settings.CSV_SCORING_PROCESSES, size)
    with scorer as scored, _scorer_death_fails_the_job():
        for start, probabilities in zip(starts, scored, strict=True):
            tweets = table.tweets[start : start + size]
            ids, labels = _chunk_store(tweets, probabilities, version=version, job=job)
            # The answer's rows are written as their chunk is stored: this process would
            # otherwise wait for the scoring processes here.
            writer.writerows(
                [*row, pk, label, repr(probability), version.name]
                for row, pk, label, probability in zip(
                    table.rows[start : start + size],
                    ids,
                    labels,
                    probabilities.tolist(),
                    strict=True,
                )
            )
            disasters += labels.count(Label.DISASTER)
            progress("scoring and storing", 5 + 90 * (start + len(tweets)) // total)

    progress("storing the answer file", 96)
    answer = out.getvalue().encode("utf-8")
    name = f"{PurePath(upload.name).stem or 'upload'}-scored.csv"
    JobFile.objects.create(
        job=job, role=JobFile.Role.RESULT, name=name, size=len(answer), data=answer
    )
    return {
        "rows": total,
        "labels": {Label.DISASTER.value: disasters, Label.NOT_DISASTER.value: total - disasters},
        "model_version": version.name,
        "filename": name,
        "download": reverse("api:job-download", args=[job.pk]),
    }


def _chunk_store(
    tweets: list[Tweet], probabilities: np.ndarray, *, version: ModelVersion, job: Job
) -> tuple[list[int], list[str]]:
    """Store a scored chunk, STORE_ROWS rows per INSERT; the ids and labels in order."""
    ids: list[int] = []
    labels: list[str] = []
    for start in range(0, len(tweets), STORE_ROWS):
        stop = start + STORE_ROWS
        stored, stored_labels = predictions_insert_for_job(
            tweets[start:stop],
            probabilities[start:stop],
            version=version,
            source=Source.CSV,
            job=job,
        )
        ids += stored
        labels += stored_labels
    return ids, labels


# Scoring chunks in forked processes ------------------------------------------------------------

# What the forked scorers read: set before they fork, so each inherits the model and the file's
# tweets (copy-on-write) and is sent only a chunk's bounds, instead of a pickled copy of them.
_scoring_model: TrainedModel | None = None
_scoring_tweets: list[Tweet] = []


def _probabilities(model: TrainedModel, tweets: list[Tweet]) -> np.ndarray:
    return model.predict_proba(
        [t.text for t in tweets], [t.keyword for t in tweets], [t.location for t in tweets]
    )


def _child_signals() -> None:
    """A scoring process's signals: the defaults, not the handlers it inherited from the task
    worker. db_worker's SIGTERM handler only asks for a graceful stop after the running task,
    so a scoring process told to stop lived on (with a multiprocessing.Pool's terminate(), the
    job then waited for it forever, heartbeat beating: seen under `make bench`). SIGINT (Ctrl+C
    in a terminal reaches the whole group) is ignored: the worker's graceful stop lets the job
    finish."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "SIGQUIT"):
        signal.signal(signal.SIGQUIT, signal.SIG_DFL)


def _score_in_child(bounds: tuple[int, int]) -> np.ndarray:
    if _scoring_model is None:  # only a process forked by _chunk_scorer has one
        raise RuntimeError("a scoring process without the model it should have inherited")
    start, stop = bounds
    return _probabilities(_scoring_model, _scoring_tweets[start:stop])


@contextmanager
def _scorer_death_fails_the_job() -> Iterator[None]:
    try:
        yield
    except BrokenProcessPool:
        raise JobFailed(
            "a scoring process stopped (killed, perhaps for want of memory); nothing was kept. "
            "Start the job again, or lower CSV_SCORING_PROCESSES"
        ) from None


@contextmanager
def _chunk_scorer(
    model: TrainedModel, tweets: list[Tweet], processes: int, size: int
) -> Iterator[Iterable[np.ndarray]]:
    """The probabilities of `tweets`, chunk by chunk of `size`, in order; in `processes` forked
    processes when there is more than one chunk to share, scoring ahead while the caller
    stores."""
    global _scoring_model, _scoring_tweets
    bounds = [(start, min(start + size, len(tweets))) for start in range(0, len(tweets), size)]
    if processes <= 1 or len(bounds) <= 1:
        yield (_probabilities(model, tweets[start:stop]) for start, stop in bounds)
        return
    _scoring_model, _scoring_tweets = model, tweets
    # Not multiprocessing.Pool: when one of its processes is killed (the OOM killer), the chunk
    # it held is never answered and the job waits forever, heartbeat and all. The executor
    # raises BrokenProcessPool instead.
    executor = ProcessPoolExecutor(
        min(processes, len(bounds)),
        mp_context=multiprocessing.get_context("fork"),
        initializer=_child_signals,
    )
    try:
        yield executor.map(_score_in_child, bounds)
    finally:
        # A caller that stopped early (a database error) does not wait for the chunks left.
        executor.shutdown(wait=True, cancel_futures=True)
        _scoring_model, _scoring_tweets = None, []
