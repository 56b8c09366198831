"""predictor/metrics.py and /metrics in one process (no multiprocess directory): who may scrape,
what each action counts, the database's figures and their cache. Across gunicorn's workers and
the job worker: tests/metrics/test_metrics_live.py."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from predictor import jobs, metrics, services
from predictor.models import JobKind, Label, Prediction
from predictor.tweets import tweet_clean
from tests.predictor.conftest import review

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_database_figures():
    metrics.DATABASE_FIGURES.clear()
    yield
    metrics.DATABASE_FIGURES.clear()


@pytest.fixture
def proxies(settings):
    def set_count(count: int) -> None:
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": count}

    return set_count


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def scrape(client, **extra) -> dict[str, list[tuple[dict[str, str], float]]]:
    response = client.get("/metrics", **extra)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for one in family.samples:
            samples.setdefault(one.name, []).append((one.labels, one.value))
    return samples


# --- who may scrape ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address", ["127.0.0.1", "10.1.2.3", "172.20.0.5", "192.168.1.9", "::1", "fd00::5"]
)
def test_loopback_and_private_networks_may_scrape(client, address):
    assert client.get("/metrics", REMOTE_ADDR=address).status_code == 200


@pytest.mark.parametrize("address", ["203.0.113.5", "172.32.0.1", "2001:db8::1", "", "junk"])
def test_anyone_else_gets_the_404_of_an_address_that_does_not_exist(client, address):
    response = client.get("/metrics", REMOTE_ADDR=address)
    assert response.status_code == 404
    assert b"disaster_predictions" not in response.content
    other = client.get("/no-such-page", REMOTE_ADDR=address)
    assert response.content == other.content.replace(b"/no-such-page", b"/metrics")


def test_the_allowed_networks_are_a_setting(client, settings):
    import ipaddress

    settings.METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network("198.51.100.0/24")]
    assert client.get("/metrics", REMOTE_ADDR="198.51.100.7").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 404


def test_an_ipv4_mapped_address_counts_as_its_ipv4_address(client):
    assert client.get("/metrics", REMOTE_ADDR="::ffff:127.0.0.1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="::ffff:203.0.113.5").status_code == 404


def test_behind_the_proxy_the_real_client_decides(client, proxies):
    """Behind Caddy every request comes from the proxy's private address: with NUM_PROXIES=1
    the address the proxy saw (X-Forwarded-For) is the client, so the public is refused."""
    proxies(1)
    from_public = client.get(
        "/metrics", REMOTE_ADDR="172.18.0.2", HTTP_X_FORWARDED_FOR="203.0.113.5"
    )
    assert from_public.status_code == 404
    # A client cannot claim a private address: the proxy appends the one it saw.
    spoofed = client.get(
        "/metrics", REMOTE_ADDR="172.18.0.2", HTTP_X_FORWARDED_FOR="10.0.0.1, 203.0.113.5"
    )
    assert spoofed.status_code == 404
    # A scraper on the private network, straight to the app's port: no X-Forwarded-For.
    assert client.get("/metrics", REMOTE_ADDR="172.18.0.9").status_code == 200


def test_a_scrape_needs_no_allowed_host(client):
    """A scraper names the instance by its private address, which ALLOWED_HOSTS does not hold."""
    assert (
        client.get("/metrics", REMOTE_ADDR="10.0.0.2", HTTP_HOST="10.0.0.7:8000").status_code == 200
    )
    assert client.get("/", REMOTE_ADDR="10.0.0.2", HTTP_HOST="10.0.0.7:8000").status_code == 400


def test_only_get_and_head(client):
    assert client.post("/metrics").status_code in (403, 404, 405)
    assert client.head("/metrics").status_code == 200


def csv_predictions() -> float:
    return sum(
        sample("disaster_predictions_total", label=label, model_version="v1", source="csv")
        for label in Label
    )


# --- what is counted --------------------------------------------------------------------------


def test_a_prediction_is_counted_by_label_version_and_source(
    client, active_version, django_capture_on_commit_callbacks
):
    labels = {"model_version": "v1", "source": "api"}
    before = {label: sample("disaster_predictions_total", label=label, **labels) for label in Label}
    observed = sample("disaster_prediction_probability_count")
    # Counted once committed (the test's transaction never commits: its callbacks run here).
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/predictions/", {"text": "Forest fire near the town"}, "application/json"
        )
    assert response.status_code == 201
    label = response.json()["label"]
    assert sample("disaster_predictions_total", label=label, **labels) == before[label] + 1
    other = next(value for value in Label if value != label)
    assert sample("disaster_predictions_total", label=other, **labels) == before[other]
    assert sample("disaster_prediction_probability_count") == observed + 1


def test_a_batch_is_counted_once_per_prediction(active_version, django_capture_on_commit_callbacks):
    before = sum(
        sample("disaster_predictions_total", label=label, model_version="v1", source="batch")
        for label in Label
    )
    tweets = [tweet_clean(text=f"Flood in the valley {i}") for i in range(7)]
    with django_capture_on_commit_callbacks(execute=True):
        services.prediction_create_batch(tweets=tweets)
    after = sum(
        sample("disaster_predictions_total", label=label, model_version="v1", source="batch")
        for label in Label
    )
    assert after == before + 7


def test_reviews_are_counted_by_label_and_agreement(
    make_prediction, admin_user, django_capture_on_commit_callbacks
):
    agreed = make_prediction(probability=0.9)  # the model said disaster
    disagreed = make_prediction(probability=0.1)  # the model said not a disaster
    before_true = sample("disaster_reviews_total", label="disaster", agreed="true")
    before_false = sample("disaster_reviews_total", label="disaster", agreed="false")
    with django_capture_on_commit_callbacks(execute=True):
        services.prediction_review(
            predictions=Prediction.objects.filter(pk__in=[agreed.pk, disagreed.pk]),
            true_label=Label.DISASTER,
            reviewer=admin_user,
            via="test",
        )
    assert sample("disaster_reviews_total", label="disaster", agreed="true") == before_true + 1
    assert sample("disaster_reviews_total", label="disaster", agreed="false") == before_false + 1
    # Clearing a label is not a review.
    with django_capture_on_commit_callbacks(execute=True):
        services.prediction_review(
            predictions=Prediction.objects.filter(pk=agreed.pk),
            true_label=None,
            reviewer=admin_user,
            via="test",
        )
    assert sample("disaster_reviews_total", label="disaster", agreed="true") == before_true + 1


def test_second_reviews_and_resolutions_are_reviews_too(
    make_prediction, users, always_double, django_capture_on_commit_callbacks
):
    """Every label given is counted once, whichever step of double review gave it."""
    prediction = make_prediction(probability=0.9)  # the model said disaster

    def counts() -> tuple[float, float]:
        return (
            sample("disaster_reviews_total", label="disaster", agreed="true"),
            sample("disaster_reviews_total", label="not_disaster", agreed="false"),
        )

    before = counts()
    with django_capture_on_commit_callbacks(execute=True):
        review(prediction, users["ana"], Label.DISASTER)  # first review, drawn for a second
        review(prediction, users["ben"], Label.NOT_DISASTER)  # second review: a conflict
        services.prediction_conflict_resolve(
            prediction=prediction, true_label=Label.DISASTER, resolver=users["ana"]
        )
    assert Prediction.objects.get(pk=prediction.pk).second_review == "resolved"
    after = counts()
    assert (after[0] - before[0], after[1] - before[1]) == (2, 1)


def test_a_queued_job_and_a_file_over_the_limit_are_counted(admin_user, settings):
    import io

    settings.CSV_MAX_BYTES = 10
    queued = sample("disaster_jobs_total", kind="csv_scoring", status="queued")
    failed = sample("disaster_jobs_total", kind="csv_scoring", status="failed")
    jobs.job_csv_enqueue(user=admin_user, upload=io.BytesIO(b"text\n" + b"x" * 20))
    assert sample("disaster_jobs_total", kind="csv_scoring", status="failed") == failed + 1
    settings.CSV_MAX_BYTES = 1000
    jobs.job_csv_enqueue(user=admin_user, upload=io.BytesIO(b"text\nFlood\n"))
    assert sample("disaster_jobs_total", kind="csv_scoring", status="queued") == queued + 1


def test_a_finished_job_is_counted_with_its_status(
    admin_user, active_version, django_capture_on_commit_callbacks
):
    import io

    job = jobs.job_csv_enqueue(user=admin_user, upload=io.BytesIO(b"text\nFlood now\n"))
    succeeded = sample("disaster_jobs_total", kind=JobKind.CSV_SCORING.value, status="succeeded")
    csv_rows = csv_predictions()
    with django_capture_on_commit_callbacks(execute=True):
        jobs.job_execute(job_id=job.pk)
    assert sample("disaster_jobs_total", kind="csv_scoring", status="succeeded") == succeeded + 1
    assert csv_predictions() == csv_rows + 1


# --- the database's figures -------------------------------------------------------------------


def test_the_database_figures(client, make_prediction, active_version):
    make_prediction(probability=0.9, version=active_version)
    make_prediction(probability=0.2, version=active_version)
    samples = scrape(client)
    assert samples["disaster_review_queue_unreviewed"] == [({}, 2.0)]
    assert samples["disaster_model_info"] == [({"version": "v1"}, 1.0)]
    assert samples["disaster_metrics_database_up"] == [({}, 1.0)]
    assert samples["disaster_jobs_oldest_queued_seconds"] == [({}, 0.0)]
    assert ({"window": "24h"}, 2.0) in samples["disaster_drift_predictions"]
    assert ({"window": "24h"}, 0.5) in samples["disaster_drift_disaster_share"]
    warnings = {
        (labels["figure"], labels["window"]) for labels, _ in samples["disaster_drift_warning"]
    }
    assert ("disaster_share", "24h") in warnings and ("live_accuracy", "30d") in warnings


def test_the_database_figures_are_cached_for_metrics_cache_seconds(
    client, settings, make_prediction
):
    settings.METRICS_CACHE_SECONDS = 3600
    make_prediction()
    assert scrape(client)["disaster_review_queue_unreviewed"] == [({}, 1.0)]
    make_prediction()
    assert scrape(client)["disaster_review_queue_unreviewed"] == [({}, 1.0)]
    settings.METRICS_CACHE_SECONDS = 0
    assert scrape(client)["disaster_review_queue_unreviewed"] == [({}, 2.0)]


def test_the_scrape_reads_a_bounded_number_of_queries(
    client, make_prediction, active_version, django_assert_max_num_queries
):
    for _ in range(30):
        make_prediction(version=active_version)
    with django_assert_max_num_queries(12):
        scrape(client)


def test_each_family_is_declared_once(client, make_prediction, active_version):
    make_prediction(version=active_version)
    text = client.get("/metrics").content.decode()
    declared = [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")]
    assert len(declared) == len(set(declared))
    assert "disaster_drift_disaster_share" in declared
