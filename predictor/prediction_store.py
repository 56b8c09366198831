"""How new predictions reach the database: one multi-row `INSERT ... RETURNING` per call and, on
SQLite, one writer at a time, queued instead of left to SQLite's busy handler.

Both come from profiles (bench/profile_request.py, bench/results.md). `Model.save()` and
`bulk_create()` spent more time preparing values than the database spent writing them, and
`bulk_create()` cut 1,000 rows into 13 statements (Django assumes SQLite's old 999-variable
limit). Under 32 concurrent clients, writers that found SQLite's write lock taken slept in its
busy handler (1, 2, 5, 10... ms) while the lock stood free: the CPU idled and the p99 soared
(docs/performance.md has the figures). Here a writer waits on a lock that wakes it the moment
the previous one is done: a `threading.Lock` for the threads of this process, `flock` on
`<database>.write-lock` for the other processes (gunicorn workers, management commands).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import nullcontext

from django.db import connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import NOT_PROVIDED, Model
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init
from django.utils import timezone

from predictor import metrics
from predictor.models import Job, Label, ModelVersion, Prediction
from predictor.tweets import Tweet

logger = logging.getLogger(__name__)

# What a new prediction sets, in the order of the INSERT's columns and of each row's values (this
# module alone knows it); every other column starts NULL (not reviewed).
INSERT_FIELDS = (
    "text",
    "keyword",
    "location",
    "probability",
    "predicted_label",
    "threshold",
    "model_version",
    "source",
    "job",
    "created",
)

_ROWS_PER_STATEMENT = 1000
_ATTNAMES = tuple(field.attname for field in Prediction._meta.concrete_fields)
_ROW_ATTNAMES = tuple(Prediction._meta.get_field(name).attname for name in INSERT_FIELDS)
# Columns the INSERT leaves to the database's own default (db_default), with that value; the
# others it does not name are NULL.
_DB_DEFAULTS = {
    field.attname: getattr(field.db_default, "value", field.db_default)
    for field in Prediction._meta.concrete_fields
    if field.db_default is not NOT_PROVIDED
}
_NULLS = {**dict.fromkeys(_ATTNAMES), **_DB_DEFAULTS}
_PREDICTION_NEW = Prediction.__new__


class _WriteLock:
    """One SQLite file's writers: the threads of this process in turn, then one process at a
    time through flock on `lock_path`. Without a lock file (an in-memory database, a read-only
    directory), the thread lock alone."""

    def __init__(self, lock_path: str | None) -> None:
        self._threads = threading.Lock()
        self._fd: int | None = None
        if lock_path:
            try:
                self._fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError as exc:
                logger.warning("No write lock file (%s); SQLite's busy handler orders writers", exc)

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        with self._threads:
            if self._fd is None:
                yield
                return
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


_locks: dict[str, _WriteLock] = {}
_locks_guard = threading.Lock()


def _forget_locks_in_child() -> None:
    """A forked child must not share the parent's flock (it belongs to the open file, which
    fork shares) nor inherit a thread lock that another thread held at the fork."""
    global _locks_guard
    for lock in _locks.values():
        lock.close()
    _locks.clear()
    _locks_guard = threading.Lock()


os.register_at_fork(after_in_child=_forget_locks_in_child)


def _lock_for(database: str) -> _WriteLock:
    with _locks_guard:
        lock = _locks.get(database)
        if lock is None:
            in_memory = database == ":memory:" or "mode=memory" in database
            path = None if in_memory else f"{os.path.abspath(database)}.write-lock"
            lock = _locks[database] = _WriteLock(path)
        return lock


@contextlib.contextmanager
def write_turn(connection: BaseDatabaseWrapper) -> Iterator[None]:
    """This thread's turn to write to `connection`'s SQLite file; a no-op elsewhere.

    Not taken inside an open transaction: that one may already hold SQLite's write lock, and a
    thread waiting here for it would wait for itself.
    """
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        yield
        return
    with _lock_for(str(connection.settings_dict["NAME"])).held():
        yield


_sql: dict[tuple[str, int], str] = {}


def _insert_sql(connection: BaseDatabaseWrapper, rows: int) -> str:
    key = (connection.vendor, rows)
    if key not in _sql:
        quote = connection.ops.quote_name
        meta = Prediction._meta
        columns = ", ".join(quote(meta.get_field(name).column) for name in INSERT_FIELDS)
        values = ", ".join(["(" + ", ".join(["%s"] * len(INSERT_FIELDS)) + ")"] * rows)
        table, pk = quote(meta.db_table), quote(meta.pk.column)
        # Only the model's own table and column names and placeholders: no value is spelled here.
        sql = f"INSERT INTO {table} ({columns}) VALUES {values} RETURNING {pk}"  # noqa: S608 # nosec
        _sql[key] = sql
    return _sql[key]


def _rows_per_statement(connection: BaseDatabaseWrapper) -> int:
    """As many rows as one statement may carry (SQLite's variable limit is set when it is built:
    32,766 since 3.32, 999 before)."""
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        limit = connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    else:
        limit = connection.features.max_query_params or 65_535
    return max(1, min(_ROWS_PER_STATEMENT, limit // len(INSERT_FIELDS)))


def predictions_insert(
    tweets: Sequence[Tweet],
    probabilities: Sequence[float],
    *,
    version: ModelVersion,
    source: str,
    using: str = "default",
) -> list[Prediction]:
    """Store each tweet with the probability `version` gave it, all or none, created now, and
    return them as saved Prediction instances, in order, with their ids."""
    created = timezone.now()
    rows = _rows(tweets, probabilities, version=version, source=source, job=None)
    ids = _insert(connections[using], rows, created, version=version, source=source)
    new = _new_instance if _plain_instances() else _instance_from_db
    cache_version = Prediction.model_version.field.set_cached_value
    predictions = []
    for pk, row in zip(ids, rows, strict=True):
        values = {**_NULLS, **dict(zip(_ROW_ATTNAMES, (*row, created), strict=True)), "id": pk}
        prediction = new(using, values)
        cache_version(prediction, version)
        predictions.append(prediction)
    return predictions


def _instance_from_db(using: str, values: dict) -> Prediction:
    return Prediction.from_db(using, _ATTNAMES, [values[a] for a in _ATTNAMES])


def _new_instance(using: str, values: dict) -> Prediction:
    """What `Prediction.from_db` makes of `values`, without `Model.__init__`'s per-field
    setattr (most of the cost of storing a batch): every field's attname is a plain instance
    attribute (a fresh instance has no cached relation for the FK descriptor to clear)."""
    prediction = _PREDICTION_NEW(Prediction)
    state = ModelState()
    state.adding, state.db = False, using
    prediction._state = state
    prediction.__dict__.update(values)
    return prediction


def _plain_instances() -> bool:
    """Whether `_new_instance` makes what `from_db` would: no __init__ signal receivers and no
    from_db or __init__ of Prediction's own."""
    return (
        Prediction.from_db.__func__ is Model.from_db.__func__
        and Prediction.__init__ is Model.__init__
        and not pre_init.has_listeners(Prediction)
        and not post_init.has_listeners(Prediction)
    )


def predictions_insert_for_job(
    tweets: Sequence[Tweet],
    probabilities: Sequence[float],
    *,
    version: ModelVersion,
    source: str,
    job: Job,
) -> tuple[list[int], list[str]]:
    """Store a chunk of a job's tweets like `predictions_insert`, marked as the job's; return
    their ids and labels only (a job stores many, and needs no instances)."""
    rows = _rows(tweets, probabilities, version=version, source=source, job=job)
    ids = _insert(connections["default"], rows, timezone.now(), version=version, source=source)
    return ids, [row[4] for row in rows]


def _rows(
    tweets: Sequence[Tweet],
    probabilities: Sequence[float],
    *,
    version: ModelVersion,
    source: str,
    job: Job | None,
) -> list[tuple]:
    """Each tweet's values in INSERT_FIELDS order, without `created`."""
    threshold = version.threshold
    job_id = job.pk if job is not None else None
    return [
        (
            tweet.text,
            tweet.keyword,
            tweet.location,
            probability,
            Label.for_probability(probability, threshold),
            threshold,
            version.pk,
            source,
            job_id,
        )
        for tweet, probability in zip(tweets, map(float, probabilities), strict=True)
    ]


def _insert(
    connection: BaseDatabaseWrapper,
    rows: list[tuple],
    created,
    *,
    version: ModelVersion,
    source: str,
) -> list[int]:
    """INSERT `rows` (all with `created`) in as few statements as the database allows, all or
    none, and count them in disaster_predictions_total once committed; their ids in order."""
    # A batch shares one timestamp, adapted for the database once.
    created_db = Prediction._meta.get_field("created").get_db_prep_save(created, connection)
    per_statement = _rows_per_statement(connection)
    ids: list[int] = []
    # One statement is atomic by itself; more need a transaction around them.
    atomic = (
        transaction.atomic(using=connection.alias) if len(rows) > per_statement else nullcontext()
    )
    with write_turn(connection), atomic, connection.cursor() as cursor:
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            params = [v for row in chunk for v in (*row, created_db)]
            cursor.execute(_insert_sql(connection, len(chunk)), params)
            ids.extend(pk for (pk,) in cursor.fetchall())
    # Every stored prediction passes here, so this is the one place that counts them.
    transaction.on_commit(
        lambda: metrics.predictions_count(
            labels=[row[4] for row in rows],
            probabilities=[row[3] for row in rows],
            model_version=version.name,
            source=source,
        ),
        using=connection.alias,
    )
    return ids
