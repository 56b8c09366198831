"""The cost of an explanation, in process: the ml-level call and the staff API's answer.

    .venv/bin/python -m bench.explain [--data CSV] [--rows 2000]

Trains the active model on --data (the shared data set by default) in a throwaway SQLite
DATA_DIR, as `ensure_model` does, stores --rows of it through the batch service, then prints
p50/p99/max milliseconds of `ml.explain.explain` on those rows, of `predict_one` beside it, of
`GET /api/predictions/{id}/explanation/` through the production WSGI stack (Django's test
client, a staff session), and of `POST /api/predictions/`, with the number of explanations the
prediction endpoint computed (it must be 0).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.django_env import default_data, django_start


def timed(call: Callable[[int], object], n: int, *, warmup: int = 50) -> dict[str, float]:
    """p50/p99/max milliseconds of `call(i)` for i in range(n), after `warmup` calls."""
    for i in range(min(warmup, n)):
        call(i)
    seconds = []
    for i in range(n):
        started = time.perf_counter()
        call(i)
        seconds.append(time.perf_counter() - started)
    cuts = statistics.quantiles(seconds, n=100, method="inclusive")
    return {
        "calls": n,
        "p50_ms": round(cuts[49] * 1e3, 3),
        "p99_ms": round(cuts[98] * 1e3, 3),
        "max_ms": round(max(seconds) * 1e3, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=default_data())
    parser.add_argument("--rows", type=int, default=2000)
    args = parser.parse_args()

    django_start(Path(tempfile.mkdtemp(prefix="bench-explain-")), model_data=args.data)
    from django.contrib.auth.models import User
    from django.test import Client

    from ml.data import read_csv
    from ml.explain import Explainer, explain
    from predictor import services
    from predictor.active_model import active_model
    from predictor.models import Source
    from predictor.tweets import tweet_clean

    data = read_csv(args.data)
    rows = min(args.rows, len(data))
    tweets = [
        tweet_clean(text=data.text[i], keyword=data.keyword[i], location=data.location[i])
        for i in range(rows)
    ]
    stored = services.prediction_create_batch(tweets=tweets, source=Source.BATCH)
    model = active_model.get().model

    def explain_row(i: int) -> None:
        explain(model, data.text[i], data.keyword[i], data.location[i])

    def predict_row(i: int) -> None:
        model.predict_one(data.text[i], data.keyword[i], data.location[i])

    staff = Client(HTTP_HOST="127.0.0.1")
    staff.force_login(User.objects.create_superuser("bench", password=None))

    def explanation_request(i: int) -> None:
        response = staff.get(f"/api/predictions/{stored[i].pk}/explanation/")
        if response.status_code != 200:
            raise SystemExit(f"unexpected answer: {response.status_code} {response.content[:200]}")

    anonymous = Client(HTTP_HOST="127.0.0.1")

    def prediction_request(i: int) -> None:
        body = {"text": data.text[i], "keyword": data.keyword[i], "location": data.location[i]}
        response = anonymous.post("/api/predictions/", body, content_type="application/json")
        if response.status_code != 201:
            raise SystemExit(f"unexpected answer: {response.status_code}")

    # Counts every explanation computed while the prediction endpoint is timed.
    explanations = 0
    original = Explainer.explain

    def counting(self, *a, **kw):
        nonlocal explanations
        explanations += 1
        return original(self, *a, **kw)

    results = {
        "data": str(args.data),
        "rows": rows,
        "ml_explain": timed(explain_row, rows),
        "ml_predict_one": timed(predict_row, rows),
        "api_explanation_get": timed(explanation_request, rows),
    }
    Explainer.explain = counting
    try:
        results["api_prediction_post"] = timed(prediction_request, rows)
    finally:
        Explainer.explain = original
    results["explanations_computed_by_prediction_post"] = explanations
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
