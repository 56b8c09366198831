"""Storing new predictions: the INSERT ... RETURNING path and the SQLite write lock."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from django.db import IntegrityError, connection

from predictor import prediction_store
from predictor.models import Label, Prediction, Source
from predictor.prediction_store import INSERT_FIELDS, predictions_insert, write_turn

MOMENT = datetime(2026, 11, 25, 9, 30, 0, 123456, tzinfo=UTC)


def rows(version, count: int, *, version_id: int | None = None) -> list[tuple]:
    return [
        (
            f"tweet {i} about a flood",
            "flood" if i % 2 else "",
            "Leeds" if i % 3 else "",
            i / count,
            Label.DISASTER if i / count >= version.threshold else Label.NOT_DISASTER,
            version.threshold,
            version.pk if version_id is None else version_id,
            Source.BATCH,
            MOMENT,
        )
        for i in range(count)
    ]


@pytest.mark.django_db
def test_insert_stores_every_field_and_returns_the_rows_with_their_ids(stored_version):
    version = stored_version("v1", threshold=0.4)
    given = rows(version, 5)
    returned = predictions_insert(given, version=version)

    assert [p.pk for p in returned] == sorted(Prediction.objects.values_list("pk", flat=True))
    for prediction, row in zip(returned, given, strict=True):
        stored = Prediction.objects.get(pk=prediction.pk)
        for name, value in zip(INSERT_FIELDS, row, strict=True):
            expected = version if name == "model_version" else value
            assert getattr(stored, name) == expected, name
            assert getattr(prediction, name) == expected, name
        assert stored.true_label is None and stored.reviewed_by is None
        assert stored.reviewed_at is None
        assert not prediction._state.adding


@pytest.mark.django_db
def test_returned_predictions_know_their_version_without_a_query(
    stored_version, django_assert_num_queries
):
    version = stored_version("v1")
    (prediction,) = predictions_insert(rows(version, 1), version=version)
    with django_assert_num_queries(0):
        assert prediction.model_version.name == "v1"


@pytest.mark.django_db
def test_many_rows_go_in_several_statements_in_request_order(stored_version, monkeypatch):
    monkeypatch.setattr(prediction_store, "_ROWS_PER_STATEMENT", 3)
    version = stored_version("v1")
    given = rows(version, 10)
    returned = predictions_insert(given, version=version)
    assert [p.text for p in returned] == [row[0] for row in given]
    stored = Prediction.objects.order_by("pk").values_list("pk", "text")
    assert list(stored) == [(p.pk, p.text) for p in returned]


@pytest.mark.django_db(transaction=True)
def test_a_failing_statement_stores_none_of_the_batch(stored_version, monkeypatch):
    monkeypatch.setattr(prediction_store, "_ROWS_PER_STATEMENT", 3)
    version = stored_version("v1")
    bad = rows(version, 8) + rows(version, 1, version_id=version.pk + 1000)
    with pytest.raises(IntegrityError):
        predictions_insert(bad, version=version)
    assert Prediction.objects.count() == 0
    predictions_insert(rows(version, 2), version=version)
    assert Prediction.objects.count() == 2


def child_takes_the_lock(lock_file: Callable[[], int | None]) -> str:
    """What a forked child finds when it tries the lock file `lock_file()` opens, without
    waiting: "held elsewhere", "taken" or "no file"."""
    child = os.fork()
    if child == 0:  # pragma: no cover (runs in the child)
        fd = lock_file()
        if fd is None:
            os._exit(2)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os._exit(0)
        os._exit(1)
    _, status = os.waitpid(child, 0)
    return ["held elsewhere", "taken", "no file"][os.waitstatus_to_exitcode(status)]


def test_the_lock_file_keeps_other_processes_out_while_held(tmp_path):
    database = str(tmp_path / "db.sqlite3")
    with prediction_store._lock_for(database).held():
        found = child_takes_the_lock(lambda: os.open(f"{database}.write-lock", os.O_RDWR))
    assert found == "held elsewhere"
    assert child_takes_the_lock(lambda: os.open(f"{database}.write-lock", os.O_RDWR)) == "taken"


def test_a_forked_child_opens_its_own_lock(tmp_path):
    """A child that kept the parent's open lock file would hold the lock together with it."""
    database = str(tmp_path / "db.sqlite3")
    with prediction_store._lock_for(database).held():
        found = child_takes_the_lock(lambda: prediction_store._lock_for(database)._fd)
    assert found == "held elsewhere"


def test_threads_of_one_process_write_in_turn(tmp_path):
    lock = prediction_store._lock_for(str(tmp_path / "db.sqlite3"))
    inside, overlaps = [], []

    def write() -> None:
        for _ in range(50):
            with lock.held():
                if inside:
                    overlaps.append(1)
                inside.append(1)
                time.sleep(0.0005)
                inside.pop()

    threads = [threading.Thread(target=write) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not overlaps


def test_without_a_lock_file_the_threads_still_take_turns(tmp_path, caplog):
    lock = prediction_store._lock_for(str(tmp_path / "missing-dir" / "db.sqlite3"))
    assert "No write lock file" in caplog.text
    with lock.held():
        assert not lock._threads.acquire(blocking=False)
    assert lock._threads.acquire(blocking=False)
    lock._threads.release()


@pytest.mark.django_db
def test_no_turn_is_taken_inside_an_open_transaction(stored_version):
    """The thread may already hold SQLite's write lock there: waiting would be a deadlock."""
    if connection.vendor != "sqlite":
        pytest.skip("the turn is SQLite's")
    lock = prediction_store._lock_for(str(connection.settings_dict["NAME"]))
    # Another thread's turn, while this test runs inside a transaction: no wait.
    with lock._threads, write_turn(connection):
        pass
