"""A gunicorn worker killed with SIGKILL mid-load, twice: the master replaces it, the only
requests that fail are ones in flight at the moment of a kill (a worker's threads each hold one),
and every acknowledged prediction is stored (a request whose worker died after committing may
be stored unanswered)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

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


def live_children(pid: int) -> list[int]:
    """The processes `pid` forked that are alive (a killed worker is a zombie until reaped)."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == pid and state != "Z":
            children.append(int(entry.name))
    return sorted(children)


def wait_for_workers(server, master: int, count: int, gone: int | None = None) -> list[int]:
    """The master's live workers once there are `count` of them (and `gone` is not one)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        now = live_children(master)
        if gone not in now and len(now) == count:
            return now
        time.sleep(0.2)
    ps = subprocess.run(
        ["ps", "-o", "pid,ppid,stat,etime,args", "-g", str(server.process.pid)],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    raise AssertionError(f"{count} workers without {gone} not seen in 60 s:\n{ps}\n{server.log()}")


def test_a_killed_worker_is_replaced_and_nothing_acknowledged_is_lost(load_server):
    master = load_server.gunicorn_pids()[0]
    # All of them: under load a server can answer /readyz before its last worker has booted.
    expected = int(load_server.env["WEB_CONCURRENCY"])
    workers = wait_for_workers(load_server, master, expected)
    load = Load(load_server, clients=CLIENTS, seconds=60, label="kill").start()
    kills = []
    for _ in range(KILLS):
        time.sleep(3)
        victim = workers[0]
        kills.append((victim, time.monotonic()))
        os.kill(victim, signal.SIGKILL)
        workers = wait_for_workers(load_server, master, expected, gone=victim)
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
    assert {pid for pid, _ in kills}.isdisjoint(live_children(master))
    assert any(o.status == 201 for o in load.outcomes if o.started > replaced)  # new workers serve
