"""A gunicorn worker killed with SIGKILL mid-load, twice: the master replaces it, clients see at
most the requests each killed worker had in flight (one per thread) fail, and every acknowledged
prediction is stored (a request whose worker died after committing may be stored unanswered)."""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.reliability.conftest import report
from tests.reliability.load import (
    Load,
    assert_acknowledged_are_stored,
    database_path,
    integrity,
    stored_rows,
)

pytestmark = pytest.mark.reliability

KILLS = 2


def wait_for_replacement(server, master: int, killed: int, workers: int) -> list[int]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        now_master, now_workers = server.gunicorn_pids()
        if now_master == master and killed not in now_workers and len(now_workers) == workers:
            return now_workers
        time.sleep(0.2)
    raise AssertionError(f"worker {killed} was not replaced:\n{server.log()}")


def test_a_killed_worker_is_replaced_and_nothing_acknowledged_is_lost(load_server):
    master, workers = load_server.gunicorn_pids()
    load = Load(load_server, clients=16, seconds=60, label="kill").start()
    killed = []
    for _ in range(KILLS):
        time.sleep(3)
        victim = workers[0]
        os.kill(victim, signal.SIGKILL)
        killed.append(victim)
        workers = wait_for_replacement(load_server, master, victim, len(workers))
    replaced = time.monotonic()
    time.sleep(3)
    load.stop()
    stored = stored_rows(database_path(load_server), load.prefix)
    failed = load.connection_errors()
    report("worker kill", {**load.figures(stored), "workers_killed": KILLS, "failed": len(failed)})

    assert load.server_errors() == []
    # At most the requests each killed worker had in flight: one per thread (gunicorn.conf.py).
    assert len(failed) <= KILLS * int(os.environ.get("GUNICORN_THREADS", "8"))
    assert_acknowledged_are_stored(load, stored)
    unanswered = len(stored) - len(load.acknowledged())
    assert 0 <= unanswered <= len(failed)
    assert integrity(database_path(load_server)) == "ok"
    assert set(killed).isdisjoint(load_server.gunicorn_pids()[1])
    assert any(o.status == 201 for o in load.outcomes if o.started > replaced)  # new workers serve
