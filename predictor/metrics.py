"""Prometheus metrics: the counters and histograms the app increments (each where its action
happens, through the functions below), the figures read from the database when /metrics is
scraped, and the exposition itself.

Under `make serve` and in the container, disaster_site/supervisor.py sets PROMETHEUS_MULTIPROC_DIR
for gunicorn's workers and the job worker alike: prometheus_client then keeps each process's
counts in files there, and a scrape adds up every process's files, those of processes that have
since died included, so counters neither reset nor double when a worker is replaced. Without it
(tests, a management command run by hand) the counts live in the process.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import threading
import time
from collections import Counter as Tally
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest
from django_prometheus.conf import NAMESPACE, PROMETHEUS_LATENCY_BUCKETS
from django_prometheus.middleware import Metrics
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from predictor.client_ip import client_ip

if TYPE_CHECKING:
    from predictor.selectors import DriftReport

logger = logging.getLogger(__name__)

# Label values come from short fixed sets (labels, sources, job kinds and statuses) or from the
# model versions' names, of which there are a few dozen at most: no unbounded label.
PREDICTIONS = Counter(
    "disaster_predictions",
    "Predictions stored, by predicted label, model version and source (form, api, batch, "
    "command, csv).",
    ["label", "model_version", "source"],
)
PREDICTION_PROBABILITY = Histogram(
    "disaster_prediction_probability",
    "The probability of a disaster given to each stored prediction.",
    buckets=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0),
)
REVIEWS = Counter(
    "disaster_reviews",
    "Labels given by reviewers, by label and whether it is the model's (agreed).",
    ["label", "agreed"],
)
JOBS = Counter(
    "disaster_jobs",
    "Background jobs by kind and status: counted once queued, and once finished "
    "(succeeded or failed).",
    ["kind", "status"],
)
TRAINING_DURATION = Histogram(
    "disaster_training_duration_seconds",
    "Wall time of a training (data, fits, evaluation), from the start to a stored version.",
    buckets=(5, 10, 20, 30, 45, 60, 90, 120, 180, 300, 600, 1200, 1800),
)


class LabelledChildren:
    """A labelled metric's children by their label values, kept in a dict: a lookup instead of
    `labels()` (its lock, argument checks and tuple building were most of a request's metrics
    cost, bench/metrics_cost.py). Label sets are bounded, so is the dict."""

    def __init__(self, metric: Counter | Histogram) -> None:
        self._metric = metric
        self._children: dict[tuple[str, ...], Counter | Histogram] = {}

    def __call__(self, *values: str) -> Counter | Histogram:
        child = self._children.get(values)
        if child is None:
            # labels() returns the one child for these values, whichever thread asks first.
            child = self._children[values] = self._metric.labels(*values)
        return child


class RequestMetrics(Metrics):
    """The part of django-prometheus's request metrics the alerts and dashboards use: answers by
    status, view and method (the 5xx rate) and latency by view and method (p99), with its names,
    plus exceptions by type and view. Its full set updates ~20 series per request; measured in
    process (python -m bench.metrics_cost) that cost a tenth of a prediction's CPU, so the rest
    (request and response sizes, transports, charsets, template names, duplicate totals) is
    left out."""

    def register(self) -> None:
        self.responses_by_status_view_method = self.register_metric(
            Counter,
            "django_http_responses_total_by_status_view_method",
            "Count of responses by status, view, method.",
            ["status", "view", "method"],
            namespace=NAMESPACE,
        )
        self.requests_latency_by_view_method = self.register_metric(
            Histogram,
            "django_http_requests_latency_seconds_by_view_method",
            "Histogram of request processing time labelled by view.",
            ["view", "method"],
            buckets=PROMETHEUS_LATENCY_BUCKETS,
            namespace=NAMESPACE,
        )
        self.exceptions_by_type = self.register_metric(
            Counter,
            "django_http_exceptions_total_by_type",
            "Count of exceptions by object type.",
            ["type"],
            namespace=NAMESPACE,
        )
        self.responses = LabelledChildren(self.responses_by_status_view_method)
        self.latency = LabelledChildren(self.requests_latency_by_view_method)
        self.exceptions_by_view = self.register_metric(
            Counter,
            "django_http_exceptions_total_by_view",
            "Count of exceptions by view.",
            ["view"],
            namespace=NAMESPACE,
        )


_PREDICTIONS = LabelledChildren(PREDICTIONS)


def predictions_count(
    *, labels: Sequence[str], probabilities: Sequence[float], model_version: str, source: str
) -> None:
    """Count stored predictions: one increment per label, one observation per probability."""
    for label, count in Tally(labels).items():
        _PREDICTIONS(label, model_version, source).inc(count)
    for probability in probabilities:
        PREDICTION_PROBABILITY.observe(probability)


def reviews_count(*, label: str, agreed: Mapping[bool, int]) -> None:
    """Count reviews that gave `label`: how many agreed with the model's label, how many not."""
    for agrees, count in agreed.items():
        if count:
            REVIEWS.labels(label=label, agreed="true" if agrees else "false").inc(count)


def job_count(*, kind: str, status: str) -> None:
    JOBS.labels(kind=kind, status=status).inc()


def training_observe(*, seconds: float) -> None:
    TRAINING_DURATION.observe(seconds)


# --- who may scrape ---------------------------------------------------------------------------


def metrics_client_allowed(request: HttpRequest) -> bool:
    """Whether the request's client (predictor.client_ip: NUM_PROXIES hops back in
    X-Forwarded-For) is in METRICS_ALLOWED_NETWORKS."""
    try:
        address = ipaddress.ip_address(client_ip(request) or "")
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in settings.METRICS_ALLOWED_NETWORKS)


# --- figures read from the database at scrape time ---------------------------------------------


def _gauge(name: str, documentation: str, value: float | None, **labels: str) -> Metric | None:
    if value is None:
        return None
    family = GaugeMetricFamily(name, documentation, labels=list(labels))
    family.add_metric(list(labels.values()), value)
    return family


def database_figures() -> list[Metric]:
    """The figures the database holds, as gauges: the review queue, the active version, unfinished
    jobs, drift and live accuracy (predictor.selectors.prediction_drift). Read afresh each time;
    DatabaseFigures caches them."""
    from predictor import selectors, services

    families: list[Metric | None] = []
    families.append(
        _gauge(
            "disaster_review_queue_unreviewed",
            "Predictions that wait for a reviewer's label.",
            selectors.prediction_unreviewed_count(),
        )
    )
    active = selectors.model_version_active()
    info = GaugeMetricFamily(
        "disaster_model_info", "The active model version (1).", labels=["version"]
    )
    if active is not None:
        info.add_metric([active.name], 1)
    families.append(info)

    jobs = selectors.job_queue_figures()
    unfinished = GaugeMetricFamily(
        "disaster_jobs_unfinished", "Jobs queued or running now.", labels=["kind", "status"]
    )
    for (kind, status), count in sorted(jobs.unfinished.items()):
        unfinished.add_metric([kind, status], count)
    families.append(unfinished)
    families.append(
        _gauge(
            "disaster_jobs_oldest_queued_seconds",
            "How long the oldest queued job has waited for a worker (0: none waits).",
            jobs.oldest_queued_seconds,
        )
    )

    if active is not None:
        services.model_version_drift_reference_ensure(version=active)
    report = selectors.prediction_drift(version=active)
    families.extend(drift_families(report))
    return [family for family in families if family is not None]


def drift_families(report: DriftReport) -> Iterator[Metric | None]:
    """A DriftReport as gauges: each live figure beside its reference, and a warning flag per
    check with the rule the dashboard applies."""
    reference = report.reference or {}
    per_window = (
        (
            "disaster_drift_predictions",
            "Predictions by the active version in the window.",
            "predictions",
        ),
        (
            "disaster_drift_disaster_share",
            "Share of the active version's predictions in the window called a disaster.",
            "disaster_share",
        ),
        (
            "disaster_drift_mean_probability",
            "Mean probability of the active version's predictions in the window.",
            "mean_probability",
        ),
    )
    for name, documentation, attribute in per_window:
        family = GaugeMetricFamily(name, documentation, labels=["window"])
        for window in report.windows:
            value = getattr(window, attribute)
            if value is not None:
                family.add_metric([window.name], value)
        yield family
    yield _gauge(
        "disaster_drift_disaster_share_reference",
        "Share called a disaster on held-out training rows (the active version).",
        reference.get("disaster_share"),
    )
    yield _gauge(
        "disaster_drift_mean_probability_reference",
        "Mean probability on held-out training rows (the active version).",
        reference.get("mean_probability"),
    )
    yield _gauge(
        "disaster_drift_oov_share",
        "Share of the words of recent predictions not in the active version's vocabulary.",
        report.oov_share,
    )
    yield _gauge(
        "disaster_drift_oov_share_reference",
        "Share of words not in the vocabulary on held-out training rows (the active version).",
        reference.get("oov_share"),
    )
    audit = report.audit
    interval = audit.interval
    yield _gauge(
        "disaster_live_accuracy_reviews",
        "Audit reviews behind the live accuracy estimate.",
        audit.reviewed,
    )
    yield _gauge(
        "disaster_live_accuracy",
        "Live accuracy: the share of audit reviews that agree with the model.",
        audit.accuracy,
    )
    yield _gauge(
        "disaster_live_accuracy_low",
        "Bottom of the live accuracy's 95% interval.",
        interval and interval[0],
    )
    yield _gauge(
        "disaster_live_accuracy_high",
        "Top of the live accuracy's 95% interval.",
        interval and interval[1],
    )
    yield _gauge(
        "disaster_evaluation_accuracy",
        "The active version's accuracy on the evaluation set.",
        report.evaluation_accuracy,
    )
    warning = GaugeMetricFamily(
        "disaster_drift_warning",
        "1 when a figure is past its threshold (the dashboard then warns), else 0.",
        labels=["figure", "window"],
    )
    for check in report.checks:
        warning.add_metric([check.figure, check.window], 1 if check.warning else 0)
    yield warning


class DatabaseFigures:
    """A collector of database_figures(), reused for METRICS_CACHE_SECONDS in this process; when
    the database does not answer, only disaster_metrics_database_up 0."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._families: list[Metric] = []
        self._read_at = float("-inf")

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            now = time.monotonic()
            if now - self._read_at >= settings.METRICS_CACHE_SECONDS:
                try:
                    families = [*database_figures(), self._up(1)]
                except DatabaseError as exc:
                    logger.warning("/metrics: the database does not answer: %s", exc)
                    families = [self._up(0)]
                self._families, self._read_at = families, now
            return list(self._families)

    def clear(self) -> None:
        with self._lock:
            self._families, self._read_at = [], float("-inf")

    @staticmethod
    def _up(value: int) -> Metric:
        family = GaugeMetricFamily(
            "disaster_metrics_database_up", "1 when /metrics could read the database's figures."
        )
        family.add_metric([], value)
        return family


DATABASE_FIGURES = DatabaseFigures()


class _ThisProcess:
    """The metrics of this process alone (no multiprocess directory)."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


def metrics_exposition() -> tuple[bytes, str]:
    """The Prometheus text exposition and its content type: the counters and histograms of every
    process sharing PROMETHEUS_MULTIPROC_DIR (or of this process without one), then the
    database's figures."""
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    registry.register(DATABASE_FIGURES)
    return generate_latest(registry), CONTENT_TYPE_LATEST
