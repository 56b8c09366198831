"""Scoring a CSV file: what csv_table_read accepts and how it names a bad line, and csv_job_score
end to end with a real model (the answer file, the stored rows, forked scorers)."""

from __future__ import annotations

import csv
import io
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings

from ml.data import read_csv
from predictor import csv_scoring
from predictor.active_model import active_model
from predictor.csv_scoring import RESULT_COLUMNS, csv_job_score, csv_table_read
from predictor.errors import JobFailed
from predictor.models import Job, JobFile, JobKind, JobStatus, Label, Prediction, Source
from predictor.tweets import Tweet


def read(text: str, *, max_rows: int = 100):
    return csv_table_read(text.encode("utf-8"), max_rows=max_rows)


# Good files ---------------------------------------------------------------------------------


def test_a_bom_and_crlf_line_ends_are_read_as_plain_utf8():
    table = csv_table_read(
        b"\xef\xbb\xbftext,keyword\r\nFire downtown,fire\r\nA lovely day,\r\n", max_rows=10
    )
    assert table.header == ["text", "keyword"]
    assert table.rows == [["Fire downtown", "fire"], ["A lovely day", ""]]
    assert table.tweets == [Tweet("Fire downtown", "fire", ""), Tweet("A lovely day", "", "")]


def test_quoted_fields_keep_their_line_breaks_and_later_lines_keep_their_numbers():
    text = 'id,text\n1,"Flood warning\nfor the valley"\n2,"a\r\nb"\n3,fine\n'
    table = read(text)
    assert [row[1] for row in table.rows] == ["Flood warning\nfor the valley", "a\r\nb", "fine"]
    # Lines 2-3 are one row, 4-5 the next, 6 the third: the row at line 7 is named by its line.
    with pytest.raises(JobFailed, match=r"^line 7: 3 fields where the header has 2$"):
        read(text + "4,bad,extra\n")


def test_keyword_and_location_are_optional_and_read_when_present():
    assert read("text\nEarthquake\n").tweets == [Tweet("Earthquake", "", "")]
    table = read("location,text,keyword\nLeeds,Storm damage, storm \n")
    assert table.tweets == [Tweet("Storm damage", "storm", "Leeds")]


def test_other_columns_pass_through_unchanged():
    table = read('id,text,note\n7, Fire ,"keep, this"\n')
    assert table.header == ["id", "text", "note"]
    # The row as read (the answer file repeats it); the tweet is the cleaned text.
    assert table.rows == [["7", " Fire ", "keep, this"]]
    assert table.tweets == [Tweet("Fire", "", "")]


def test_blank_lines_are_skipped_and_do_not_shift_line_numbers():
    assert len(read("text\nA\n\nB\n\n").rows) == 2
    with pytest.raises(JobFailed, match=r"^line 5: 2 fields where the header has 1$"):
        read("text\nA\n\nB\nC,D\n")


def test_exactly_max_rows_is_accepted():
    assert len(read("text\nA\nB\nC\n", max_rows=3).rows) == 3


# Bad files: each names the line ------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"tweet,keyword\nFire,fire\n", r"^line 1: no text column"),
        (b"text\nok\ncaf\xe9 au lait\n", r"^line 3: the file is not UTF-8 text \(byte 0xe9\)"),
        (b"text,id\nA,1\nB\n", r"^line 3: 1 fields where the header has 2$"),
        (b'text,id\nA,1\n"B"x,2\n', r"^line 3: this line cannot be read as CSV: "),
        (b'text,id\nA,1\n"never closed,2\n', r"^line 3: this line cannot be read as CSV: "),
        (b"text\nA\n" + b"x" * 1001 + b"\n", r"^line 3: text: Ensure this field has no more "),
        (b"text,keyword\nA," + b"k" * 101 + b"\n", r"^line 2: keyword: Ensure this field has "),
        (b"text,id\nA,1\n   ,2\n", r"^line 3: text: This field may not be blank\.$"),
        (b"text\nA\nnul \x00 inside\n", r"^line 3: text: Null characters are not allowed\.$"),
        (b"text,keyword,text\nA,b,c\n", r"^line 1: the column text appears 2 times$"),
        (b"", r"^line 1: the file is empty"),
        (b"\xef\xbb\xbf", r"^line 1: the file is empty"),
        (b"text,keyword\n", r"^line 2: the file has a header but no rows$"),
        (b"text,keyword\n\n\n", r"^line 2: the file has a header but no rows$"),
    ],
    ids=[
        "no text column",
        "not UTF-8",
        "too few fields",
        "stray quote",
        "unclosed quote",
        "text too long",
        "keyword too long",
        "empty text",
        "NUL",
        "duplicated text",
        "empty file",
        "only a BOM",
        "header only",
        "header and blank lines",
    ],
)
def test_a_bad_file_fails_naming_its_line(data, message):
    with pytest.raises(JobFailed, match=message):
        csv_table_read(data, max_rows=100)


@pytest.mark.parametrize("column", RESULT_COLUMNS)
def test_a_column_the_answer_adds_is_refused(column):
    with pytest.raises(JobFailed, match=rf"^line 1: the column {column} is one the answer adds"):
        read(f"text,{column}\nA,1\n")


def test_more_rows_than_the_limit_fail_at_the_first_row_over_it():
    with pytest.raises(JobFailed, match=r"^line 6: more than 3 rows \(CSV_MAX_ROWS\)"):
        read("text\nA\n\nB\nC\nD\n", max_rows=3)


# Scoring a job's file end to end -------------------------------------------------------------


def csv_job(data: bytes, *, name: str = "tweets.csv") -> Job:
    job = Job.objects.create(kind=JobKind.CSV_SCORING, status=JobStatus.RUNNING)
    JobFile.objects.create(job=job, role=JobFile.Role.INPUT, name=name, size=len(data), data=data)
    return job


def sample_file(rows: int) -> bytes:
    """`rows` tweets of the sample data with an id column before and a note column after."""
    sample = read_csv(settings.SAMPLE_TRAIN_DATA)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["id", "keyword", "text", "location", "note"])
    for i in range(rows):
        j = i % len(sample)
        writer.writerow([f"r{i}", sample.keyword[j], sample.text[j], sample.location[j], "x,y"])
    return out.getvalue().encode("utf-8")


def answer_of(job: Job) -> list[dict[str, str]]:
    answer = JobFile.objects.get(job=job, role=JobFile.Role.RESULT)
    assert answer.size == len(bytes(answer.data))
    return list(csv.DictReader(io.StringIO(bytes(answer.data).decode("utf-8"), newline="")))


@pytest.mark.django_db
def test_csv_job_score_answers_every_row_in_order_and_stores_each(make_version, settings):
    settings.CSV_CHUNK_ROWS = 7
    settings.CSV_SCORING_PROCESSES = 2
    version = make_version("v1")
    data = sample_file(30)
    job = csv_job(data, name="my tweets.csv")
    reports: list[tuple[str, int]] = []

    result = csv_job_score(
        job=job, progress=lambda stage, percent: reports.append((stage, percent))
    )

    answer = answer_of(job)
    given = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    assert list(answer[0]) == [*given[0], *RESULT_COLUMNS]
    assert [[row[c] for c in given[0]] for row in answer] == given[1:]
    stored = Prediction.objects.in_bulk([int(row["prediction_id"]) for row in answer])
    assert len(stored) == 30
    model = active_model.get().model
    for row in answer:
        prediction = stored[int(row["prediction_id"])]
        assert (prediction.source, prediction.job_id) == (Source.CSV, job.pk)
        assert (prediction.text, prediction.keyword) == (row["text"].strip(), row["keyword"])
        expected = float(model.predict_proba([row["text"]], [row["keyword"]], [row["location"]])[0])
        assert prediction.probability == expected
        assert float(row["probability"]) == prediction.probability
        assert row["label"] == prediction.predicted_label
        assert row["label"] == Label.for_probability(prediction.probability, version.threshold)
        assert row["model_version"] == "v1"
    disasters = sum(row["label"] == Label.DISASTER for row in answer)
    assert 0 < disasters < 30
    assert result == {
        "rows": 30,
        "labels": {"disaster": disasters, "not_disaster": 30 - disasters},
        "model_version": "v1",
        "filename": "my tweets-scored.csv",
        "download": f"/api/jobs/{job.pk}/download/",
    }
    percents = [percent for _, percent in reports]
    assert percents == sorted(percents)
    assert percents[-1] < 100


@pytest.mark.django_db
def test_one_process_and_two_give_the_same_answer(make_version, settings):
    make_version("v1")
    settings.CSV_CHUNK_ROWS = 5
    data = sample_file(23)
    answers = []
    for processes in (1, 2):
        settings.CSV_SCORING_PROCESSES = processes
        job = csv_job(data)
        csv_job_score(job=job, progress=lambda stage, percent: None)
        answers.append([{**row, "prediction_id": None} for row in answer_of(job)])
    assert answers[0] == answers[1]
    assert len(answers[0]) == 23


@pytest.mark.django_db
def test_a_file_with_a_bad_third_line_stores_nothing(make_version, settings):
    make_version("v1")
    job = csv_job(b"text\nFire downtown\n" + b"x" * 1001 + b"\nFlood\n")
    with pytest.raises(JobFailed, match=r"^line 3: text: "):
        csv_job_score(job=job, progress=lambda stage, percent: None)
    assert not Prediction.objects.exists()
    assert not JobFile.objects.filter(job=job, role=JobFile.Role.RESULT).exists()


@pytest.mark.django_db
def test_the_row_limit_comes_from_the_settings(make_version, settings):
    make_version("v1")
    settings.CSV_MAX_ROWS = 2
    job = csv_job(b"text\nA\nB\nC\n")
    with pytest.raises(JobFailed, match=r"^line 4: more than 2 rows \(CSV_MAX_ROWS\)"):
        csv_job_score(job=job, progress=lambda stage, percent: None)
    assert not Prediction.objects.exists()


@pytest.mark.django_db
def test_without_an_active_model_the_job_fails_and_stores_nothing():
    job = csv_job(b"text\nFire downtown\n")
    with pytest.raises(JobFailed, match="no model can score the file: no model is active"):
        csv_job_score(job=job, progress=lambda stage, percent: None)
    assert not Prediction.objects.exists()


def child_processes() -> set[int]:
    return {
        int(pid)
        for tasks in Path(f"/proc/{os.getpid()}/task").glob("*/children")
        for pid in tasks.read_text().split()
    }


@pytest.mark.django_db
def test_a_killed_scoring_process_fails_the_job_instead_of_hanging_it(
    make_version, settings, monkeypatch
):
    """The OOM killer's case: the job must end (and say why), not wait forever for the chunk the
    dead process held while its heartbeat keeps it looking alive."""
    make_version("v1")
    score = csv_scoring._probabilities

    def slow(model, tweets):
        time.sleep(5)  # scoring is quick: the scorers must still be busy when they are killed
        return score(model, tweets)

    monkeypatch.setattr(csv_scoring, "_probabilities", slow)  # the forked scorers inherit it
    settings.CSV_CHUNK_ROWS = 2000
    settings.CSV_SCORING_PROCESSES = 2
    job = csv_job(sample_file(4000))
    already = child_processes()
    killed: list[int] = []

    def kill_the_scorers() -> None:
        deadline = time.monotonic() + 30
        while not (scorers := child_processes() - already) and time.monotonic() < deadline:
            time.sleep(0.001)
        time.sleep(0.15)  # each is busy with its chunk of 2,000 rows
        for pid in scorers:
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    def hung(signum, frame):
        raise TimeoutError("the job hung after its scoring process was killed")

    killer = threading.Thread(target=kill_the_scorers)
    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(60)
    killer.start()
    try:
        with pytest.raises(JobFailed, match=r"^a scoring process stopped"):
            csv_job_score(job=job, progress=lambda stage, percent: None)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        killer.join()
    assert killed
    assert child_processes() == already
