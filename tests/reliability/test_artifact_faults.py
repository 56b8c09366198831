"""A missing or tampered model artifact when the service starts: /readyz and predictions answer
503 with a clear reason, the rest of the site (admin, history API) keeps working, nothing is
stored, and activating a good version brings predictions back without a restart.

(A running service is not hurt by an artifact that breaks later: the master loaded the model
before forking and every worker, replacements included, shares it. The artifact is read again
only at a start or an activation, and activation refuses a bad one: tests/predictor.)"""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from pathlib import Path

import pytest

from tests.live_server import SAMPLE_DATA
from tests.reliability.conftest import report, staff_token
from tests.reliability.load import Browser, database_path

pytestmark = pytest.mark.reliability


@pytest.fixture(scope="module")
def installation(serve, tmp_path_factory):
    """A data directory with a trained, active model and a staff token; no server running."""
    data_dir = tmp_path_factory.mktemp("artifact-faults")
    server = serve(data_dir)
    token = staff_token(server)
    server.stop()
    return data_dir, token


def train_spare(server) -> str:
    trained = server.manage("retrain", "--no-activate", "--data", str(SAMPLE_DATA))
    assert trained.returncode == 0, trained.stderr
    return trained.stdout.split()[0]


def active_artifact(server) -> tuple[str, Path]:
    with closing(sqlite3.connect(database_path(server))) as db:
        name, file = db.execute(
            "SELECT name, artifact_path FROM predictor_modelversion WHERE is_active"
        ).fetchone()
    return name, server.data_dir / "models" / file


def prediction_count(server) -> int:
    with closing(sqlite3.connect(database_path(server))) as db:
        return db.execute("SELECT COUNT(*) FROM predictor_prediction").fetchone()[0]


def wait_until(check, what: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.25)
    raise AssertionError(f"not {what} after {seconds}s")


def assert_predictions_unavailable_rest_works(server, token: str, reason: str) -> dict:
    before = prediction_count(server)
    status, ready = server.request("GET", "/readyz")
    assert (status, ready["status"]) == (503, "unavailable")
    assert reason in ready["reason"]

    single = server.request("POST", "/api/predictions/", {"text": "Flood in the valley"})
    batch = server.request("POST", "/api/predictions/batch/", {"items": [{"text": "Storm"}]})
    for status, body in (single, batch):
        assert status == 503
        assert "cannot be loaded" in body["detail"] and reason in body["detail"]
    form_status, html, _ = Browser(server).submit("/", {"message": "Flood in the valley"})
    assert form_status == 503 and "The model is not available" in html

    auth = {"Authorization": f"Token {token}"}
    assert server.request("GET", "/admin/login/")[0] == 200
    assert server.request("GET", "/api/predictions/", headers=auth)[0] == 200
    assert server.request("GET", "/api/models/", headers=auth)[0] == 200
    assert prediction_count(server) == before
    return {"readyz": 503, "predict": single[0], "batch": batch[0], "form": form_status}


def assert_activation_resumes(server, spare: str) -> None:
    master = server.gunicorn_pids()[0]
    activated = server.manage("activate", spare)
    assert activated.returncode == 0, activated.stderr
    wait_until(lambda: server.request("GET", "/readyz")[0] == 200, "ready again", 30)
    status, body = server.request("POST", "/api/predictions/", {"text": "Flood in the valley"})
    assert (status, body["model_version"]) == (201, spare)
    assert server.gunicorn_pids()[0] == master  # no restart


def start_with_a_broken_artifact(serve, data_dir: Path, breaks) -> tuple:
    """Stop, break the active version's artifact with `breaks(path)`, start `make serve` again
    (which then loads no model); (server, broken version, spare good version)."""
    server = serve(data_dir)
    spare = train_spare(server)
    name, path = active_artifact(server)
    server.stop()
    breaks(path)
    server = serve(data_dir, wait=False)
    wait_until(lambda: server.request("GET", "/healthz")[0] == 200, "serving")
    return server, name, spare


def tamper(path: Path) -> None:
    path.write_bytes(path.read_bytes() + b"tampered")


@pytest.mark.parametrize(
    ("fault", "breaks", "reason"),
    [
        ("tampered artifact", tamper, "does not match its recorded SHA-256"),
        ("missing artifact", Path.unlink, "is missing"),
    ],
)
def test_a_broken_artifact_is_a_503_until_a_good_version_is_activated(
    serve, installation, fault, breaks, reason
):
    data_dir, token = installation
    server, name, spare = start_with_a_broken_artifact(serve, data_dir, breaks)
    try:
        figures = assert_predictions_unavailable_rest_works(server, token, f"{name} {reason}")
        assert str(data_dir) not in server.request("GET", "/readyz")[1]["reason"]
        assert_activation_resumes(server, spare)
    finally:
        server.stop()
    report(fault, {**figures, "resumed_with": spare, "restarts": 0})
