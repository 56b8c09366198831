"""SQLite's WAL checkpoints in a background thread of each serving process, not in a request.

By default SQLite checkpoints on the commit that takes the write-ahead log past 1,000 pages:
that request copies the log into the database file and waits for the disk, and every other
writer waits behind it. Measured in process (bench/profile_request.py, one prediction per
request): p99 15.9 ms with those checkpoints, 4.9 ms without (docs/performance.md). Serving
connections now checkpoint by themselves only past 10,000 pages (settings: a safety net for a
process that runs no checkpointer); each gunicorn worker starts a Checkpointer
(gunicorn.conf.py), a thread that checkpoints every SQLITE_CHECKPOINT_SECONDS in PASSIVE mode:
it copies what no reader still needs, takes no lock that writers or readers wait for, and lets
SQLite release the GIL while it writes.
"""

from __future__ import annotations

import logging
import threading

from django.db import DatabaseError, connections

logger = logging.getLogger(__name__)


def wal_checkpoint(using: str = "default") -> tuple[int, int, int] | None:
    """One PASSIVE checkpoint on this thread's connection: (1 if it could not finish, frames in
    the log, frames checkpointed); None for a database that is not SQLite. DatabaseError when
    the database refuses."""
    connection = connections[using]
    if connection.vendor != "sqlite":
        return None
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
        busy, frames, checkpointed = cursor.fetchone()
    return busy, frames, checkpointed


class Checkpointer(threading.Thread):
    """Checkpoints `using`'s log every `interval` seconds until stopped; a failure is logged
    (once until the next success) and the next round tries again."""

    def __init__(self, *, interval: float, using: str = "default") -> None:
        super().__init__(name="sqlite-checkpoint", daemon=True)
        self.interval = interval
        self.using = using
        self._stopping = threading.Event()

    def run(self) -> None:
        failing = False
        try:
            while not self._stopping.wait(self.interval):
                try:
                    wal_checkpoint(self.using)
                except DatabaseError as exc:
                    if not failing:
                        logger.warning(
                            "WAL checkpoint failed (retried every %gs): %s", self.interval, exc
                        )
                    failing = True
                else:
                    failing = False
        finally:
            connections[self.using].close()

    def stop(self) -> None:
        self._stopping.set()
        self.join()


def checkpointer_start(*, interval: float, using: str = "default") -> Checkpointer | None:
    """A started Checkpointer; None (and no thread) unless `using` is a SQLite database and
    `interval` > 0."""
    if interval <= 0 or connections[using].vendor != "sqlite":
        return None
    checkpointer = Checkpointer(interval=interval, using=using)
    checkpointer.start()
    return checkpointer
