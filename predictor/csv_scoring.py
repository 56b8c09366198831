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
from predictor.models import Job, JobFile, Label, Source
from predictor.prediction_store import predictions_insert_for_job
from predictor.tweets import InvalidTweet, Tweet, tweet_clean

RESULT_COLUMNS = ("prediction_id", "label", "probability", "model_version")
TWEET_COLUMNS = ("text", "keyword", "location")


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
    chunks = [table.tweets[start : start + size] for start in starts]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*table.header, *RESULT_COLUMNS])
    disasters = 0
    progress("scoring and storing", 5)
    with _chunk_scorer(current.model, settings.CSV_SCORING_PROCESSES, len(chunks)) as score:
        for start, tweets, probabilities in zip(starts, chunks, score(chunks), strict=True):
            ids, labels = predictions_insert_for_job(
                tweets, probabilities, version=version, source=Source.CSV, job=job
            )
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


# Scoring chunks in forked processes ------------------------------------------------------------

# The model the forked scorers use: set before they fork, so each inherits it (copy-on-write)
# instead of receiving a pickled copy.
_scoring_model: TrainedModel | None = None


def _probabilities(model: TrainedModel, tweets: list[Tweet]) -> np.ndarray:
    return model.predict_proba(
        [t.text for t in tweets], [t.keyword for t in tweets], [t.location for t in tweets]
    )


def _score_in_child(tweets: list[Tweet]) -> np.ndarray:
    assert _scoring_model is not None
    return _probabilities(_scoring_model, tweets)


def _scorer_start() -> None:
    """In a forked scorer: drop the signal handlers it inherited. db_worker's SIGTERM handler
    lets a running task finish, so Pool.terminate() could not stop the scorer and the job hung
    at the pool's exit; Ctrl+C (SIGINT to the whole process group) is the worker's to handle."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextmanager
def _chunk_scorer(
    model: TrainedModel, processes: int, chunks: int
) -> Iterator[Callable[[list[list[Tweet]]], Iterable[np.ndarray]]]:
    """A function that scores chunks, in order; in `processes` forked processes when there is
    more than one chunk to share, scoring ahead while the caller stores."""
    global _scoring_model
    if processes <= 1 or chunks <= 1:
        yield lambda parts: (_probabilities(model, part) for part in parts)
        return
    _scoring_model = model
    try:
        context = multiprocessing.get_context("fork")
        with context.Pool(min(processes, chunks), initializer=_scorer_start) as pool:
            yield lambda parts: pool.imap(_score_in_child, parts)
    finally:
        _scoring_model = None
