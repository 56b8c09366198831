"""The database refuses writes under load (its files made immutable: read-only; or its disk
filled up): predictions answer 503 with a clear JSON message, never 500, nothing half-written
remains, and service comes back by itself once the condition clears.

Both faults are real, not simulated in the code: `chattr +i` on the SQLite file and its WAL
(root ignores file modes, not the immutable flag), and a small tmpfs as DATA_DIR filled to the
last byte. Each test skips, saying why, where the machine cannot do that."""

from __future__ import annotations

import errno
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.reliability.conftest import report
from tests.reliability.load import (
    Browser,
    Load,
    assert_stored_exactly_once,
    database_path,
    integrity,
    post,
    stored_rows,
)

pytestmark = pytest.mark.reliability

MESSAGE = "The database cannot take this request right now"


def run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


@contextmanager
def immutable(*paths: Path):
    made = run("chattr", "+i", *map(str, paths))
    if made.returncode != 0:
        run("chattr", "-i", *map(str, paths))
        pytest.skip(f"chattr +i does not work here: {made.stderr.strip()}")
    try:
        yield
    finally:
        assert run("chattr", "-i", *map(str, paths)).returncode == 0


@contextmanager
def full(directory: Path):
    """Fill the file system holding `directory`; free it again on leaving."""
    filler = directory / "filler"
    with open(filler, "wb") as handle:
        try:
            while True:
                handle.write(b"\0" * (1 << 20))
                handle.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    try:
        for size in (1 << 16, 1 << 12, 1):  # the last few blocks too
            try:
                with open(directory / f"filler-{size}", "wb") as handle:
                    while True:
                        handle.write(b"\0" * size)
                        handle.flush()
            except OSError:
                pass
        yield
    finally:
        for path in directory.glob("filler*"):
            path.unlink()


def fault_under_load(server, label: str, fault) -> tuple[Load, dict]:
    """Clients post throughout: 2 s healthy, 4 s under `fault`, then until requests are stored
    again. What the form and a batch answer during the fault is checked on the way."""
    load = Load(server, clients=8, seconds=120, label=label).start()
    seen = {}
    try:
        time.sleep(2)
        with fault():
            time.sleep(1)
            seen["batch"] = post(server, "/api/predictions/batch/", {"items": [{"text": "a"}] * 50})
            seen["form"] = Browser(server).submit("/", {"message": "Flood in the valley"})
            time.sleep(3)
        cleared = time.monotonic()
        deadline = cleared + 30
        while time.monotonic() < deadline:
            if any(o.status == 201 for o in load.outcomes if o.started > cleared):
                break
            time.sleep(0.2)
        time.sleep(1)
    finally:
        load.stop()
    seen["recovered_after"] = cleared
    return load, seen


def assert_refused_cleanly_and_recovered(server, load: Load, seen: dict) -> dict:
    stored = stored_rows(database_path(server), load.prefix)
    statuses = load.statuses()
    refused = [o for o in load.outcomes if o.status == 503]
    figures = {**load.figures(stored), "answered_503": len(refused)}

    assert set(statuses) <= {201, 503}, statuses  # never a 500
    assert load.connection_errors() == []
    assert refused, "the fault was never seen"
    for outcome in refused:
        assert MESSAGE in outcome.body["detail"] and "nothing was stored" in outcome.body["detail"]
    assert seen["batch"].status == 503 and MESSAGE in seen["batch"].body["detail"]
    form_status, html, _ = seen["form"]
    assert form_status == 503 and MESSAGE in html
    assert any(o.status == 201 for o in load.outcomes if o.started > seen["recovered_after"])
    assert_stored_exactly_once(load, stored)  # a 503 stored nothing, half or whole
    assert integrity(database_path(server)) == "ok"
    return figures


def test_a_read_only_database_is_a_503_and_service_resumes(serve, tmp_path_factory):
    server = serve(tmp_path_factory.mktemp("read-only"))
    database = database_path(server)
    wal = database.with_name(database.name + "-wal")
    assert post(server, "/api/predictions/", {"text": "warm up"}).status == 201
    assert wal.is_file()
    try:
        load, seen = fault_under_load(server, "readonly", lambda: immutable(database, wal))
        figures = assert_refused_cleanly_and_recovered(server, load, seen)
    finally:
        server.stop()
    report("database read-only", figures)


@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    mounted = run("mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(mount))
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.strip()}")
    yield mount
    run("umount", "--lazy", str(mount))


def test_a_full_disk_is_a_503_and_service_resumes_when_space_is_freed(serve, tmp_path, small_disk):
    # The database and the models on the small disk; the server's log and static files beside.
    server = serve(tmp_path / "logs", DATA_DIR=str(small_disk))
    try:
        load, seen = fault_under_load(server, "diskfull", lambda: full(small_disk))
        figures = assert_refused_cleanly_and_recovered(server, load, seen)
    finally:
        server.stop()
    report("disk full", figures)
