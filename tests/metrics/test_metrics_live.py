"""/metrics on `make serve` (gunicorn's two workers and the job worker, disaster_site/supervisor):
counters are exact across processes, also after a worker is killed and replaced, and the job
worker's counts reach the scrape."""

from __future__ import annotations

import http.client
import os
import signal
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.live_server import LiveServer, start_server

pytestmark = pytest.mark.live

N = 24


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> LiveServer:
    # No cache of the database's figures: each scrape reads them afresh.
    live = start_server(
        tmp_path_factory.mktemp("metrics-live"),
        extra_env={"RUN_WORKER": "1", "METRICS_CACHE_SECONDS": "0"},
    )
    yield live
    live.stop()


def scrape(server: LiveServer) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Every sample of /metrics by name: [(labels, value), ...]."""
    status, text = server.request("GET", "/metrics")
    assert status == 200, text
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def total(server: LiveServer, name: str, **labels: str) -> float:
    """The sum of `name`'s samples whose labels include `labels`."""
    return sum(
        value
        for sample_labels, value in scrape(server).get(name, [])
        if labels.items() <= sample_labels.items()
    )


def predict(server: LiveServer, n: int) -> None:
    """n predictions, each over a new connection (so both workers take some)."""
    for i in range(n):
        status, body = server.request(
            "POST", "/api/predictions/", {"text": f"Forest fire near the town, report {i}"}
        )
        assert status == 201, body


def test_the_prediction_counter_is_exact_across_workers_and_a_replaced_worker(server):
    before = total(server, "disaster_predictions_total")
    observed_before = total(server, "disaster_prediction_probability_count")
    predict(server, N)
    assert total(server, "disaster_predictions_total") == before + N
    assert total(server, "disaster_predictions_total", source="api") >= N
    assert total(server, "disaster_prediction_probability_count") == observed_before + N

    _, workers = server.gunicorn_pids()
    os.kill(workers[0], signal.SIGKILL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        _, now = server.gunicorn_pids()
        if len(now) == len(workers) and workers[0] not in now:
            break
        time.sleep(0.2)
    else:
        raise AssertionError(f"no replacement for worker {workers[0]}:\n{server.log()}")
    server.wait_ready()
    # The dead worker's counts stay counted, and nothing is counted twice.
    assert total(server, "disaster_predictions_total") == before + N
    predict(server, N)
    assert total(server, "disaster_predictions_total") == before + 2 * N
    assert total(server, "disaster_prediction_probability_count") == observed_before + 2 * N


def test_the_request_metrics_and_the_database_figures_are_there(server):
    samples = scrape(server)
    statuses = {
        labels["status"]
        for labels, _ in samples["django_http_responses_total_by_status_view_method_total"]
    }
    assert "201" in statuses
    assert samples["disaster_model_info"] == [({"version": "v1"}, 1.0)]
    assert samples["disaster_metrics_database_up"] == [({}, 1.0)]
    [(_, unreviewed)] = samples["disaster_review_queue_unreviewed"]
    assert unreviewed >= 1
    assert "disaster_drift_disaster_share" in samples


def test_a_job_run_by_the_job_worker_is_counted(server):
    result = server.manage(
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model;"
        "from rest_framework.authtoken.models import Token;"
        # get_or_create: on PostgreSQL every live server of the run shares one database.
        "u, _ = get_user_model().objects.get_or_create("
        "username='metrics-ops', defaults={'is_staff': True});"
        "print(Token.objects.get_or_create(user=u)[0].key)",
    )
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip().splitlines()[-1]
    succeeded = total(server, "disaster_jobs_total", kind="csv_scoring", status="succeeded")
    csv_rows = total(server, "disaster_predictions_total", source="csv")

    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request(
            "POST",
            "/api/predictions/csv/",
            body=b"text\nEarthquake shakes the city\nI love fruits\nFlood warning now\n",
            headers={"Content-Type": "text/csv", "Authorization": f"Token {token}"},
        )
        response = connection.getresponse()
        assert response.status == 202, response.read()
        response.read()
    finally:
        connection.close()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if total(server, "disaster_jobs_total", kind="csv_scoring", status="succeeded") > succeeded:
            break
        time.sleep(0.3)
    else:
        raise AssertionError(f"the job's success was never counted:\n{server.log()}")
    assert total(server, "disaster_jobs_total", kind="csv_scoring", status="queued") >= 1
    assert total(server, "disaster_predictions_total", source="csv") == csv_rows + 3
