"""A live server whose background jobs are run by `manage.py db_worker` processes that the tests
start, watch and kill themselves (the server's own worker is off: RUN_WORKER=0)."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.live_server import ROOT, SAMPLE_DATA, LiveServer, start_server

# Short enough for a test to wait out, long enough for a loaded machine to keep beating.
HEARTBEAT_SECONDS = 0.5
STALE_SECONDS = 3.0
FINISHED = ("succeeded", "failed")


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    """ "" (SQLite in the server's DATA_DIR), or, when the suite runs on PostgreSQL (DATABASE_URL),
    a throwaway database on that server: the live server's rows never meet the suite's."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        yield ""
        return
    import psycopg

    name = f"disaster_worker_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """`make serve` trained on the bundled sample, without a worker of its own."""
    live = start_server(
        tmp_path_factory.mktemp("worker-server"),
        extra_env={
            "RUN_WORKER": "0",
            "DATABASE_URL": database_url,
            "TRAIN_DATA": str(SAMPLE_DATA),
            "JOB_HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS),
            "JOB_STALE_SECONDS": str(STALE_SECONDS),
        },
    )
    try:
        yield live
    finally:
        live.stop()


@dataclass
class Api:
    """HTTP calls to the server as a staff superuser (DRF token)."""

    server: LiveServer
    token: str

    def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        csv: bytes | None = None,
        timeout: float = 30,
    ) -> tuple[int, Any]:
        """(status, parsed JSON or text); `csv` is sent as a text/csv body."""
        headers = {"Authorization": f"Token {self.token}"}
        payload: bytes | None = None
        if csv is not None:
            headers["Content-Type"] = "text/csv"
            payload = csv
        elif body is not None:
            headers["Content-Type"] = "application/json"
            payload = json.dumps(body).encode()
        connection = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=timeout)
        try:
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
            raw = response.read()
        finally:
            connection.close()
        if response.getheader("Content-Type", "").startswith("application/json"):
            return response.status, json.loads(raw)
        return response.status, raw.decode("utf-8", "replace")

    def get(self, path: str) -> Any:
        """A GET that must answer 200; its JSON."""
        status, data = self.call("GET", path)
        assert status == 200, (path, status, data)
        return data

    def job(self, job_id: int) -> dict[str, Any]:
        return self.get(f"/api/jobs/{job_id}/")

    def wait_for(
        self,
        job_id: int,
        until: Callable[[dict[str, Any]], bool] = lambda job: job["status"] in FINISHED,
        *,
        timeout: float = 90,
        every: float = 0.1,
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Poll the job until `until(job)`; (that reading, every reading on the way)."""
        seen: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.job(job_id)
            seen.append(job)
            if until(job):
                return job, seen
            time.sleep(every)
        raise AssertionError(f"job {job_id} still {seen[-1]} after {timeout} s")

    def prediction_count(self) -> int:
        return self.get("/api/predictions/?page_size=1")["count"]

    def versions(self) -> list[str]:
        """Every model version's name, newest first (one page is plenty here)."""
        return [version["name"] for version in self.get("/api/models/")["results"]]

    def active_version(self) -> str:
        return self.get("/api/models/active/")["name"]

    def unfinished_jobs(self) -> list[dict[str, Any]]:
        return [job for job in self.get("/api/jobs/")["results"] if job["status"] not in FINISHED]


@pytest.fixture(scope="module")
def api(server: LiveServer) -> Api:
    """A staff superuser made with Django's and DRF's own commands, and its token."""
    created = server.manage(
        "createsuperuser",
        "--noinput",
        timeout=120,
        DJANGO_SUPERUSER_USERNAME="operator",
        DJANGO_SUPERUSER_EMAIL="operator@example.com",
        DJANGO_SUPERUSER_PASSWORD="a-long-test-password-1234",
    )
    assert created.returncode == 0, created.stderr
    token = server.manage("drf_create_token", "operator")
    assert token.returncode == 0, token.stderr
    return Api(server, token.stdout.split()[2])  # "Generated token KEY for user NAME"


@dataclass
class Worker:
    """One `manage.py db_worker` process, the leader of its own process group."""

    id: str
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return f"--- {self.id}:\n" + self.log_path.read_text(errors="replace")[-3000:]

    def kill(self) -> None:
        """SIGKILL the worker and everything it forked: no handler, no clean-up, like a crash."""
        with contextlib.suppress(ProcessLookupError):  # the whole group is gone already
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)


@dataclass
class Workers:
    """Workers with the server's environment, all killed at the end of the test."""

    server: LiveServer
    started: list[Worker] = field(default_factory=list)

    def start(self, **env: str) -> Worker:
        """A worker; `env`: variables to add or change (TRAIN_DATA to train on other data)."""
        worker_id = f"worker-{len(self.started) + 1}-{uuid.uuid4().hex[:6]}"
        log_path = self.server.data_dir / f"{worker_id}.log"
        command = ["manage.py", "db_worker", "--no-reload", "--interval", "0.2"]
        with open(log_path, "wb") as output:
            process = subprocess.Popen(
                [str(ROOT / ".venv" / "bin" / "python"), *command, "--worker-id", worker_id],
                cwd=ROOT,
                env={**self.server.env, **env},
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        worker = Worker(worker_id, process, log_path)
        self.started.append(worker)
        return worker

    def log(self) -> str:
        return "\n".join(worker.log() for worker in self.started)

    def kill_all(self) -> None:
        for worker in self.started:
            worker.kill()


@pytest.fixture
def workers(server: LiveServer, api: Api) -> Iterator[Workers]:
    """Workers for one test. Afterwards none is left running, nor any job unfinished: a test that
    failed half-way must not hand its queued jobs to the next test's workers."""
    pool = Workers(server)
    try:
        yield pool
    finally:
        pool.kill_all()
        if api.unfinished_jobs():
            cleared = server.manage(
                "shell",
                "-c",
                "from django_tasks_db.models import DBTaskResult;"
                "from predictor.models import Job;"
                "Job.objects.filter(status__in=('queued', 'running'))"
                ".update(status='failed', error='left unfinished by a test');"
                "DBTaskResult.objects.filter(status__in=('READY', 'RUNNING')).delete()",
            )
            assert cleared.returncode == 0, cleared.stderr


@pytest.fixture(scope="module")
def sample_csv() -> bytes:
    """The bundled sample as a file to score: its own columns, a few hundred rows."""
    return SAMPLE_DATA.read_bytes()


def models_dir_files(server: LiveServer) -> set[str]:
    """Every file in the server's model directory (hidden temporary files included)."""
    directory = Path(server.data_dir) / "models"
    return {path.name for path in directory.iterdir() if path.is_file()}
