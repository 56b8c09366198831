"""python -m bench.metrics_cost: what the metrics add to one request, in process, in
prometheus_client's multiprocess mode (as under `make serve`): django-prometheus's full request
metrics (its two middlewares) against the subset the app keeps (RequestMetricsMiddleware), each
around the same request to POST /api/predictions/, and counting one stored prediction
(predictor.metrics.predictions_count). Prints microseconds per request, medians of the rounds."""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

# Before prometheus_client is imported: its values go to files here, as in production.
os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="bench-metrics-")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "disaster_site.settings")
os.environ.update({"ENV_FILE": "", "DEBUG": "0", "SECRET_KEY": "bench-only-" + "x" * 40})

import django

django.setup()

from django.http import HttpResponse  # noqa: E402
from django.test import RequestFactory  # noqa: E402
from django.urls import resolve  # noqa: E402
from django_prometheus.middleware import (  # noqa: E402
    Metrics,
    PrometheusAfterMiddleware,
    PrometheusBeforeMiddleware,
)
from prometheus_client import CollectorRegistry  # noqa: E402

from predictor import metrics  # noqa: E402
from predictor.middleware import RequestMetricsMiddleware  # noqa: E402

BODY = b'{"text": "Forest fire near La Ronge Sask. Canada"}'


class FullMetrics(Metrics):
    """django-prometheus's whole set, on a registry of its own (the app's subset has some of
    the same names on the default one)."""

    registry = CollectorRegistry()

    def register_metric(self, metric_cls, name, documentation, labelnames=(), **kwargs):
        return metric_cls(
            name, documentation, labelnames=labelnames, registry=self.registry, **kwargs
        )


class FullBefore(PrometheusBeforeMiddleware):
    metrics_cls = FullMetrics


class FullAfter(PrometheusAfterMiddleware):
    metrics_cls = FullMetrics


def view(request):
    return HttpResponse(b'{"id": 1, "label": "disaster"}', status=201)


def per_call(function, calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        function()
    return (time.perf_counter() - started) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    factory = RequestFactory()
    match = resolve("/api/predictions/")
    before, after, ours = FullBefore(view), FullAfter(view), RequestMetricsMiddleware(view)

    def request():
        return factory.post("/api/predictions/", BODY, content_type="application/json")

    def bare() -> None:
        one = request()
        one.resolver_match = match
        view(one)

    # What Django's handler calls, in its order, for a view that answers.
    def full() -> None:
        one = request()
        before.process_request(one)
        after.process_request(one)
        one.resolver_match = match
        after.process_view(one, view, (), {})
        response = after.process_response(one, view(one))
        before.process_response(one, response)

    def subset() -> None:
        one = request()
        ours.process_request(one)
        one.resolver_match = match
        ours.process_response(one, view(one))

    def count_one() -> None:
        metrics.predictions_count(
            labels=["disaster"], probabilities=[0.93], model_version="v1", source="api"
        )

    cases = {
        "request alone": bare,
        "+ django-prometheus, all": full,
        "+ the subset kept": subset,
        "count one prediction": count_one,
    }
    results: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.rounds):
        for name, case in cases.items():
            results[name].append(per_call(case, args.calls))
    median = {name: statistics.median(values) for name, values in results.items()}
    for name, value in median.items():
        print(f"{name:28} {value:8.1f} µs")
    alone = median["request alone"]
    print(f"{'added: all':28} {median['+ django-prometheus, all'] - alone:8.1f} µs per request")
    kept = median["+ the subset kept"] - alone
    print(f"{'added: the subset kept':28} {kept:8.1f} µs per request")
    added = kept + median["count one prediction"]
    print(f"{'added per prediction in all':28} {added:8.1f} µs")
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
