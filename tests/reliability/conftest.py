"""Live servers for the reliability tests (`make serve` via tests/live_server.py, loopback only,
SQLite in their own DATA_DIR) and the figures each test reports at the end of the run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.live_server import LiveServer, start_server

SOAK_SECONDS = float(os.environ.get("SOAK_SECONDS", "60"))
SOAK_CLIENTS = int(os.environ.get("SOAK_CLIENTS", "32"))

_FIGURES: list[tuple[str, dict]] = []


def report(test: str, figures: dict) -> None:
    """Figures for the summary at the end of the run (and the README's Reliability table)."""
    _FIGURES.append((test, figures))


def pytest_terminal_summary(terminalreporter) -> None:
    if not _FIGURES:
        return
    terminalreporter.section("reliability figures")
    for test, figures in _FIGURES:
        terminalreporter.write_line(f"{test}: {figures}")


@pytest.fixture(scope="session")
def static_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One STATIC_ROOT for every server: collectstatic copies only what changed."""
    return tmp_path_factory.mktemp("static")


@pytest.fixture(scope="session")
def serve(static_root: Path) -> Iterator:
    """Factory: start `make serve` on SQLite in `data_dir`; every server is stopped at the end."""
    servers: list[LiveServer] = []

    def start(data_dir: Path, wait: bool = True, **env: str) -> LiveServer:
        server = start_server(
            data_dir,
            wait=wait,
            extra_env={
                "DATABASE_URL": "",  # SQLite in DATA_DIR, whatever the suite runs on
                "STATIC_ROOT": str(static_root),
                "WEB_CONCURRENCY": "2",
                "ACTIVE_MODEL_CHECK_SECONDS": "1",
                **env,
            },
        )
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def load_server(serve, tmp_path_factory: pytest.TempPathFactory) -> LiveServer:
    """A server shared by the load tests (soak, model switch, worker kill, backup)."""
    return serve(tmp_path_factory.mktemp("load-server"))


def staff_token(server: LiveServer, username: str = "ops") -> str:
    """A superuser and its DRF token, with Django's and DRF's own commands."""
    created = server.manage(
        "createsuperuser",
        "--noinput",
        "--username",
        username,
        "--email",
        f"{username}@example.com",
        timeout=120,
        DJANGO_SUPERUSER_PASSWORD="a-long-test-password-1234",
    )
    assert created.returncode == 0, created.stderr
    token = server.manage("drf_create_token", username)
    assert token.returncode == 0, token.stderr
    return token.stdout.split()[2]  # "Generated token KEY for user NAME"


@pytest.fixture(scope="session")
def api_server(serve, tmp_path_factory: pytest.TempPathFactory) -> tuple[LiveServer, str]:
    """A server for schemathesis and the live security checks, with a staff token."""
    server = serve(tmp_path_factory.mktemp("api-server"))
    return server, staff_token(server)
