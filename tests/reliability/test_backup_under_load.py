"""`manage.py backup` while clients post: the copy passes SQLite's integrity check, holds every
prediction acknowledged before the backup started, and restores into a working installation
(the README's restore steps: copy it to a new DATA_DIR with the model files, migrate, serve)."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import time
from contextlib import closing

import pytest

from tests.live_server import manage_command
from tests.reliability.conftest import report
from tests.reliability.load import Load, assert_stored_exactly_once, database_path, stored_rows

pytestmark = pytest.mark.reliability


def test_a_backup_taken_under_load_is_consistent_and_restores(load_server, tmp_path):
    load = Load(load_server, clients=16, seconds=120, label="backup").start()
    time.sleep(3)
    before = set(load.acknowledged())
    output = tmp_path / "backup.sqlite3"
    backup = load_server.manage("backup", "--output", str(output))
    time.sleep(1)
    load.stop()
    assert backup.returncode == 0, backup.stderr
    assert "Backed up to" in backup.stdout

    with closing(sqlite3.connect(output)) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        in_copy = {
            pk
            for (pk,) in copy.execute(
                "SELECT id FROM predictor_prediction WHERE text LIKE ?", (f"%[{load.prefix} %",)
            )
        }
    stored = stored_rows(database_path(load_server), load.prefix)
    report(
        "backup under load",
        {
            **load.figures(stored),
            "acknowledged_before_backup": len(before),
            "in_backup": len(in_copy),
            "missing_from_backup": len(before - in_copy),
        },
    )
    assert before and before <= in_copy  # nothing acknowledged before it started is missing
    assert load.server_errors() == [] and load.connection_errors() == []
    assert_stored_exactly_once(load, stored)  # and the live database lost nothing meanwhile

    # Restore: a new DATA_DIR holding the copy as db.sqlite3 and the model files.
    restored = tmp_path / "restored"
    restored.mkdir()
    shutil.copyfile(output, restored / "db.sqlite3")
    shutil.copytree(load_server.data_dir / "models", restored / "models")
    env = {**load_server.env, "DATA_DIR": str(restored)}

    def manage(*args: str) -> subprocess.CompletedProcess:
        return manage_command(env, *args)

    assert manage("migrate", "--check").returncode == 0  # the schema is complete and current
    predicted = manage("predict", "Flooding after the dam broke")
    assert predicted.returncode == 0, predicted.stderr  # the active model loads, a row is stored
    with closing(sqlite3.connect(restored / "db.sqlite3")) as copy:
        (count,) = copy.execute("SELECT COUNT(*) FROM predictor_prediction").fetchone()
    with closing(sqlite3.connect(output)) as backup_copy:
        (backed_up,) = backup_copy.execute("SELECT COUNT(*) FROM predictor_prediction").fetchone()
    assert count == backed_up + 1
