"""Online, consistent backups of the SQLite database (SQLite's backup API, safe under load)."""

from __future__ import annotations

import os
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.db import connection


class BackupError(Exception):
    """The backup could not be made; the message says why."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    size: int
    predictions: int
    model_versions: int


def database_backup(*, output: Path) -> BackupResult:
    """Copy the live SQLite database to `output` page by page, then check the copy.

    Writers keep working meanwhile (WAL); the copy is a consistent snapshot. The file appears at
    `output` only once it is complete and has passed `PRAGMA integrity_check`.
    """
    if connection.vendor != "sqlite":
        raise BackupError(
            f"backup copies SQLite databases; this one is {connection.vendor} (use pg_dump)"
        )
    output = output.resolve()
    if not output.parent.is_dir():
        raise BackupError(f"no such directory: {output.parent}")
    fd, tmp_name = tempfile.mkstemp(prefix=".backup-", suffix=".sqlite3", dir=output.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        connection.ensure_connection()
        target = sqlite3.connect(tmp)
        try:
            connection.connection.backup(target, pages=1024)
            (status,) = target.execute("PRAGMA integrity_check").fetchone()
            if status != "ok":
                raise BackupError(f"the copy failed its integrity check: {status}")
            (predictions,) = target.execute("SELECT COUNT(*) FROM predictor_prediction").fetchone()
            (versions,) = target.execute("SELECT COUNT(*) FROM predictor_modelversion").fetchone()
        finally:
            target.close()
        os.replace(tmp, output)
    except OSError as exc:
        raise BackupError(f"cannot write {output}: {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return BackupResult(output, output.stat().st_size, predictions, versions)
