"""The bench's databases: count stored predictions, and a throwaway PostgreSQL database."""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

PREDICTION_TABLE = "predictor_prediction"
LOCAL_POSTGRES = "postgres://postgres@127.0.0.1:5432/postgres"


@dataclass(frozen=True)
class BenchDatabase:
    """Where one of our servers stores predictions: SQLite in DATA_DIR, or a DATABASE_URL."""

    sqlite_path: Path | None = None
    url: str | None = None

    @property
    def label(self) -> str:
        return "PostgreSQL" if self.url else "SQLite"

    def prediction_count(self) -> int:
        query = f"SELECT count(*) FROM {PREDICTION_TABLE}"  # noqa: S608 (a constant)
        if self.url:
            import psycopg

            with psycopg.connect(_libpq_url(self.url)) as connection:
                return connection.execute(query).fetchone()[0]
        with sqlite3.connect(self.sqlite_path, timeout=30) as connection:
            return connection.execute(query).fetchone()[0]

    def settled_count(self, *, quiet_s: float = 0.3, timeout_s: float = 10) -> int:
        """The row count once it stops changing (requests wrk abandoned may still be stored)."""
        count, deadline = self.prediction_count(), time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            time.sleep(quiet_s)
            again = self.prediction_count()
            if again == count:
                return count
            count = again
        return count


def _libpq_url(url: str) -> str:
    """dj-database-url accepts postgres:// and postgresql://; libpq wants postgresql://."""
    parts = urlsplit(url)
    scheme = "postgresql" if parts.scheme in {"postgres", "postgresql", "pgsql"} else parts.scheme
    return urlunsplit((scheme, *parts[1:]))


def postgres_database_create(server_url: str = LOCAL_POSTGRES) -> str:
    """Create an empty database named bench_<time>_<pid> on the server; its URL."""
    import psycopg

    name = f"bench_{int(time.time())}_{os.getpid()}"
    with psycopg.connect(_libpq_url(server_url), autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))


def postgres_database_drop(url: str) -> None:
    """Drop a database made by postgres_database_create (closing any connection left to it)."""
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not name.startswith("bench_"):
        raise ValueError(f"refusing to drop {name!r}: not a bench database")
    server = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(_libpq_url(server), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_version(url: str) -> str:
    import psycopg

    with psycopg.connect(_libpq_url(url)) as connection:
        return connection.execute("SHOW server_version").fetchone()[0]
