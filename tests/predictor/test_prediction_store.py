"""Storing new predictions: the INSERT ... RETURNING path and the SQLite write lock."""

from __future__ import annotations

import fcntl
import os
import signal
import threading
import time
from collections.abc import Callable

import pytest
from django.db import DatabaseError, connection
from django.db.models.signals import post_init
from django.utils import timezone

from predictor import prediction_store
from predictor.models import Label, ModelVersion, Prediction, Source
from predictor.prediction_store import INSERT_FIELDS, predictions_insert, write_turn
from predictor.tweets import Tweet


def tweets(count: int) -> list[Tweet]:
    return [
        Tweet(f"tweet {i} about a flood", "flood" if i % 2 else "", "Leeds" if i % 3 else "")
        for i in range(count)
    ]


def insert(version: ModelVersion, count: int) -> list[Prediction]:
    """`count` tweets with probabilities spread over [0, 1), stored as batch predictions."""
    return predictions_insert(
        tweets(count), [i / count for i in range(count)], version=version, source=Source.BATCH
    )


@pytest.mark.django_db
def test_insert_stores_every_field_and_returns_the_rows_with_their_ids(make_version):
    version = make_version("v1", threshold=0.4, artifact=False)
    given, probabilities = tweets(5), [0.0, 0.2, 0.4, 0.6, 0.8]
    before = timezone.now()
    returned = predictions_insert(given, probabilities, version=version, source=Source.BATCH)

    assert [p.pk for p in returned] == sorted(Prediction.objects.values_list("pk", flat=True))
    for prediction, tweet, probability in zip(returned, given, probabilities, strict=True):
        stored = Prediction.objects.get(pk=prediction.pk)
        expected = {
            "text": tweet.text,
            "keyword": tweet.keyword,
            "location": tweet.location,
            "probability": probability,
            # At or above the threshold is a disaster: 0.4 itself is one.
            "predicted_label": Label.DISASTER if probability >= 0.4 else Label.NOT_DISASTER,
            "threshold": 0.4,
            "model_version": version,
            "source": Source.BATCH,
            "job": None,
            "created": returned[0].created,
        }
        assert set(expected) == set(INSERT_FIELDS)
        for name, value in expected.items():
            assert getattr(stored, name) == value, name
            assert getattr(prediction, name) == value, name
        assert before <= stored.created <= timezone.now()
        assert stored.true_label is None and stored.reviewed_by is None
        assert stored.reviewed_at is None
        assert not prediction._state.adding


@pytest.mark.django_db
def test_returned_predictions_know_their_version_without_a_query(
    make_version, django_assert_num_queries
):
    version = make_version("v1", artifact=False)
    (prediction,) = insert(version, 1)
    with django_assert_num_queries(0):
        assert prediction.model_version.name == "v1"


def _fields(prediction: Prediction) -> dict:
    return {k: v for k, v in vars(prediction).items() if k != "_state"}


@pytest.mark.django_db
def test_returned_predictions_are_what_from_db_makes_of_the_row(make_version):
    version = make_version("v1", artifact=False)
    returned = insert(version, 3)

    for prediction in returned:
        loaded = Prediction.objects.get(pk=prediction.pk)
        assert _fields(prediction) == _fields(loaded)
        assert list(_fields(prediction)) == list(_fields(loaded))
        assert (prediction._state.adding, prediction._state.db) == (False, "default")
        assert prediction == loaded and type(prediction) is Prediction
        prediction.true_label = Label.DISASTER
        prediction.save(update_fields=["true_label"])
        assert Prediction.objects.get(pk=prediction.pk).true_label == Label.DISASTER


@pytest.mark.django_db
def test_with_an_init_signal_receiver_predictions_go_through_from_db(make_version):
    version = make_version("v1", artifact=False)
    seen = []

    def receiver(sender, instance, **kwargs):
        seen.append(instance)

    post_init.connect(receiver, sender=Prediction)
    try:
        returned = insert(version, 2)
    finally:
        post_init.disconnect(receiver, sender=Prediction)

    assert seen == returned
    assert returned[0].model_version.name == "v1"


@pytest.mark.django_db
def test_many_rows_go_in_several_statements_in_request_order(make_version, monkeypatch):
    monkeypatch.setattr(prediction_store, "_ROWS_PER_STATEMENT", 3)
    version = make_version("v1", artifact=False)
    returned = insert(version, 10)
    assert [p.text for p in returned] == [t.text for t in tweets(10)]
    stored = Prediction.objects.order_by("pk").values_list("pk", "text")
    assert list(stored) == [(p.pk, p.text) for p in returned]


@pytest.mark.django_db(transaction=True)
def test_a_failing_statement_stores_none_of_the_batch(make_version, monkeypatch):
    monkeypatch.setattr(prediction_store, "_ROWS_PER_STATEMENT", 3)
    version = make_version("v1", artifact=False)
    # Only the last of three statements fails: PostgreSQL refuses a NUL byte in text; SQLite
    # stores one, but binds a NaN as NULL, which the probability column refuses.
    given, probabilities = tweets(9), [0.5] * 9
    if connection.vendor == "postgresql":
        given[-1] = Tweet("nul \x00 byte")
    else:
        probabilities[-1] = float("nan")
    with pytest.raises(DatabaseError):
        predictions_insert(given, probabilities, version=version, source=Source.BATCH)
    assert Prediction.objects.count() == 0
    insert(version, 2)
    assert Prediction.objects.count() == 2


def child_takes_the_lock(lock_file: Callable[[], int | None]) -> str:
    """What a forked child finds when it tries the lock file `lock_file()` opens, without
    waiting: "held elsewhere", "taken", "no file", or "hung" (a lock the fork left held)."""
    child = os.fork()
    if child == 0:  # pragma: no cover (runs in the child)
        signal.alarm(10)  # a child stuck on a lock inherited from the fork ends, and says so
        fd = lock_file()
        if fd is None:
            os._exit(2)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os._exit(0)
        os._exit(1)
    _, status = os.waitpid(child, 0)
    code = os.waitstatus_to_exitcode(status)
    return "hung" if code == -signal.SIGALRM else ["held elsewhere", "taken", "no file"][code]


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
        thread.join(timeout=30)  # a lock that never frees must fail the test, not hang it
    assert not any(thread.is_alive() for thread in threads)
    assert not overlaps


def test_without_a_lock_file_the_threads_still_take_turns(tmp_path, caplog):
    lock = prediction_store._lock_for(str(tmp_path / "missing-dir" / "db.sqlite3"))
    assert "No write lock file" in caplog.text
    with lock.held():
        assert not lock._threads.acquire(blocking=False)
    assert lock._threads.acquire(blocking=False)
    lock._threads.release()


@pytest.mark.django_db
def test_no_turn_is_taken_inside_an_open_transaction(make_version):
    """The thread may already hold SQLite's write lock there: waiting would be a deadlock."""
    if connection.vendor != "sqlite":
        pytest.skip("the turn is SQLite's")
    lock = prediction_store._lock_for(str(connection.settings_dict["NAME"]))
    # Another thread's turn, while this test runs inside a transaction: no wait.
    with lock._threads, write_turn(connection):
        pass
