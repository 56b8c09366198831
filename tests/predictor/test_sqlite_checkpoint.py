"""SQLite's WAL checkpoints run in a background thread of each gunicorn worker, not in requests."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from django.db import connection

from predictor.sqlite_checkpoint import checkpointer_start
from tests.live_server import start_server

pytestmark = pytest.mark.django_db
sqlite_only = pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's log")


@pytest.mark.skipif(connection.vendor == "sqlite", reason="only on other databases")
def test_no_thread_for_another_database():
    assert checkpointer_start(interval=1) is None


@sqlite_only
def test_a_commit_checkpoints_by_itself_only_past_the_safety_net():
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint")
        assert cursor.fetchone() == (10_000,)


def test_no_thread_when_turned_off():
    assert checkpointer_start(interval=0) is None


@sqlite_only
def test_a_failing_checkpoint_is_logged_once_and_retried(caplog):
    # The suite's transaction holds the in-memory database's lock: a checkpoint from another
    # thread fails with "database table is locked", round after round.
    checkpointer = checkpointer_start(interval=0.01)
    assert checkpointer is not None and checkpointer.daemon
    time.sleep(0.2)
    checkpointer.stop()
    assert not checkpointer.is_alive()
    failures = [r for r in caplog.records if r.name == "predictor.sqlite_checkpoint"]
    assert len(failures) == 1
    assert "locked" in failures[0].getMessage()


def predictions_in_database_file(path: Path) -> int:
    """Predictions in the database file itself, without what is still only in its log."""
    uri = f"file:{path}?mode=ro&immutable=1"
    for attempt in range(3):
        try:
            with sqlite3.connect(uri, uri=True) as db:
                return db.execute("SELECT COUNT(*) FROM predictor_prediction").fetchone()[0]
        except sqlite3.DatabaseError:  # read while a checkpoint was writing the page
            if attempt == 2:
                raise
            time.sleep(0.5)
    raise AssertionError("unreachable")


@sqlite_only
@pytest.mark.live
def test_a_live_servers_predictions_reach_the_database_file(tmp_path):
    server = start_server(tmp_path / "data", extra_env={"SQLITE_CHECKPOINT_SECONDS": "0.5"})
    try:
        for i in range(30):
            status, _ = server.request("POST", "/api/predictions/", {"text": f"Flood #{i}"})
            assert status == 201
        # Thirty rows are a few hundred pages of log: far below the 10,000 at which a commit
        # would checkpoint by itself, so only the workers' threads can have copied them.
        deadline = time.monotonic() + 10
        while predictions_in_database_file(tmp_path / "data" / "db.sqlite3") < 30:
            assert time.monotonic() < deadline, "the log was not checkpointed"
            time.sleep(0.25)
    finally:
        server.stop()
