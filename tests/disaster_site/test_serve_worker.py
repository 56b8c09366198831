"""`make serve` runs the job worker beside gunicorn (disaster_site/supervisor.py): a CSV file sent
over HTTP is scored, the worker runs at a lower priority, and a killed worker is replaced."""

from __future__ import annotations

import csv
import http.client
import io
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.live_server import LiveServer, start_server

pytestmark = pytest.mark.live

TWEETS = [
    "Forest fire near La Ronge Sask. Canada",
    "I love fruits",
    "Flood warning: evacuate the valley now",
    "What a lovely day at the beach",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> LiveServer:
    live = start_server(tmp_path_factory.mktemp("serve-worker"), extra_env={"RUN_WORKER": "1"})
    yield live
    live.stop()


@pytest.fixture(scope="module")
def token(server: LiveServer) -> str:
    result = server.manage(
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model;"
        "from rest_framework.authtoken.models import Token;"
        "u = get_user_model().objects.create_user('ops', is_staff=True);"
        "print(Token.objects.create(user=u).key)",
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def send_csv(server: LiveServer, token: str, body: str) -> tuple[int, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request(
            "POST",
            "/api/predictions/csv/",
            body=body.encode(),
            headers={"Content-Type": "text/csv", "Authorization": f"Token {token}"},
        )
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def job_finished(server: LiveServer, token: str, job_id: int, timeout: float = 90) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, job = server.request(
            "GET", f"/api/jobs/{job_id}/", headers={"Authorization": f"Token {token}"}
        )
        assert status == 200, job
        if job["status"] in {"succeeded", "failed"}:
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} not finished after {timeout}s: {job}\n{server.log()}")


def worker_pids(server: LiveServer) -> list[int]:
    """The `manage.py db_worker` processes in this server's session."""
    out = subprocess.run(
        ["ps", "-o", "pid=,args=", "-g", str(server.process.pid)],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    rows = [line.split(None, 1) for line in out.splitlines()]
    return [int(pid) for pid, args in rows if "manage.py db_worker" in args]


def niceness(pid: int) -> int:
    # /proc/PID/stat: "pid (comm) state ppid ..."; nice is the 19th field, the 17th after comm.
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[16])


def test_a_csv_file_sent_over_http_is_scored_by_the_worker(server, token):
    rows = [{"id": str(i), "text": text} for i, text in enumerate(TWEETS)]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["id", "text"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    status, job = send_csv(server, token, out.getvalue())
    assert status == 202, job

    job = job_finished(server, token, job["id"])
    assert job["status"] == "succeeded", job
    assert job["result"]["rows"] == len(TWEETS)
    status, answer = server.request(
        "GET", f"/api/jobs/{job['id']}/download/", headers={"Authorization": f"Token {token}"}
    )
    assert status == 200
    scored = list(csv.DictReader(io.StringIO(answer)))
    assert [row["id"] for row in scored] == [row["id"] for row in rows]
    assert {row["label"] for row in scored} <= {"disaster", "not_disaster"}

    # The worker runs at WORKER_NICE (10) below gunicorn.
    [worker] = worker_pids(server)
    master, _ = server.gunicorn_pids()
    assert niceness(worker) == min(niceness(master) + 10, 19)


def test_a_killed_worker_is_replaced_and_the_new_one_runs_jobs(server, token):
    [old] = worker_pids(server)
    os.kill(old, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (worker_pids(server) in ([], [old])):
        time.sleep(0.1)
    [new] = worker_pids(server)
    assert new != old
    log = server.log_path.read_text()
    assert f"the worker (pid {old}) was killed by SIGKILL; starting it again" in log

    status, job = send_csv(server, token, "text\nEarthquake shakes the city\n")
    assert status == 202, job
    assert job_finished(server, token, job["id"])["status"] == "succeeded"
    assert server.process.poll() is None  # gunicorn went on serving throughout
