"""A gunicorn worker killed with SIGKILL mid-load, twice: the master replaces it, the only
requests that fail are ones in flight at the moment of a kill (a worker's threads each hold one),
and every acknowledged prediction is stored (a request whose worker died after committing may
be stored unanswered)."""

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
CLIENTS = 16


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
    load = Load(load_server, clients=CLIENTS, seconds=60, label="kill").start()
    kills = []
    for _ in range(KILLS):
        time.sleep(3)
        victim = workers[0]
        kills.append((victim, time.monotonic()))
        os.kill(victim, signal.SIGKILL)
        workers = wait_for_replacement(load_server, master, victim, len(workers))
    replaced = time.monotonic()
    time.sleep(3)
    load.stop()
    stored = stored_rows(database_path(load_server), load.prefix)
    failed = load.connection_errors()
    report("worker kill", {**load.figures(stored), "workers_killed": KILLS, "failed": len(failed)})

    assert load.server_errors() == []
    # Each failure was in flight when a worker died (a client has one request out at a time).
    assert len(failed) <= CLIENTS * KILLS
    for outcome in failed:
        assert any(outcome.started <= at <= outcome.finished for _, at in kills), outcome
    assert_acknowledged_are_stored(load, stored)
    unanswered = len(stored) - len(load.acknowledged())
    assert 0 <= unanswered <= len(failed)
    assert integrity(database_path(load_server)) == "ok"
    assert {pid for pid, _ in kills}.isdisjoint(load_server.gunicorn_pids()[1])
    assert any(o.status == 201 for o in load.outcomes if o.started > replaced)  # new workers serve
