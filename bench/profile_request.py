"""Profile one prediction request through the whole Django stack, in process (no HTTP server).

    .venv/bin/python -m bench.profile_request [--data CSV] [--requests 3000] [--top 30]
        [--no-profile] [--stats FILE] [--stages]

Calls the production WSGI application (DEBUG off, the real middleware, metrics in a multiprocess
directory as under gunicorn) with `POST /api/predictions/` bodies against a throwaway SQLite
database and a model trained on --data (default: the shared train.csv, else the sample). Each
body is a row of --data with a marker of its own appended, so no two texts repeat. Prints the
per-request wall time (p50, p99), then the functions where the time goes (cProfile, sorted by
cumulative then own time; --stats FILE saves them for pstats). --stages: the median of each
stage of the fast path timed on its own, one after another over the same rows. Environment
variables set before it reach the settings: `PREDICTION_FAST_PATH=0` profiles the full DRF
view, `SQLITE_CHECKPOINT_SECONDS=0` SQLite's own checkpoints.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import statistics
import tempfile
import time
from pathlib import Path

from bench.django_env import default_data, django_start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=default_data())
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--no-profile", action="store_true", help="only the timings")
    parser.add_argument("--stats", type=Path, help="save the profile here")
    parser.add_argument("--stages", action="store_true", help="time each stage on its own")
    args = parser.parse_args()

    django_start(Path(tempfile.mkdtemp(prefix="profile-request-")), model_data=args.data)
    from django.conf import settings
    from django.core.management import call_command

    from disaster_site.wsgi import application
    from ml.data import read_csv
    from predictor.sqlite_checkpoint import checkpointer_start

    call_command("collectstatic", "--noinput", verbosity=0)
    # As in a gunicorn worker (gunicorn.conf.py).
    checkpointer_start(interval=settings.SQLITE_CHECKPOINT_SECONDS)
    data = read_csv(args.data)
    rows = list(zip(data.text, data.keyword, data.location, strict=True))

    def environ(i: int) -> dict:
        text, keyword, location = rows[i % len(rows)]
        tweet = {"text": f"{text} r{i:x}", "keyword": keyword, "location": location}
        body = json.dumps(tweet).encode()
        return {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/api/predictions/",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "HTTP_HOST": "127.0.0.1",
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_ADDR": "127.0.0.1",
            "wsgi.input": io.BytesIO(body),
            "wsgi.url_scheme": "http",
        }

    def call(i: int) -> None:
        status = []
        b"".join(application(environ(i), lambda s, h: status.append(s)))
        if not status[0].startswith("201"):
            raise SystemExit(f"unexpected answer: {status[0]}")

    for i in range(200):
        call(i)
    times = []
    for i in range(args.requests):
        started = time.perf_counter()
        call(i)
        times.append(time.perf_counter() - started)
    times.sort()
    p50 = statistics.median(times) * 1000
    p99 = times[int(len(times) * 0.99)] * 1000
    print(f"{args.requests} requests: p50 {p50:.3f} ms, p99 {p99:.3f} ms")
    if args.stages:
        stages(rows[: args.requests], p50)
    if args.no_profile:
        return

    profiler = cProfile.Profile()
    profiler.enable()
    for i in range(args.requests):
        call(args.requests + i)
    profiler.disable()
    if args.stats:
        profiler.dump_stats(args.stats)
    for order in ("cumulative", "tottime"):
        stats = pstats.Stats(profiler)
        stats.sort_stats(order).print_stats(args.top)


def stages(rows: list[tuple[str, str, str]], request_p50: float) -> None:
    """The median of each stage of predictor.api.fast's answer, timed on its own."""
    from rest_framework.renderers import JSONRenderer

    from predictor import metrics
    from predictor.active_model import active_model
    from predictor.api.serializers import PredictionSerializer, TweetSerializer
    from predictor.models import Source
    from predictor.prediction_store import predictions_insert

    current = active_model.get()
    bodies = [
        json.dumps({"text": f"{t} s{i:x}", "keyword": k, "location": loc}).encode()
        for i, (t, k, loc) in enumerate(rows)
    ]
    tweets = [TweetSerializer.parse(json.loads(body.decode())) for body in bodies]
    probabilities = [current.model.predict_one(t.text, t.keyword, t.location) for t in tweets]
    stored = []

    def insert(i: int) -> None:
        stored.append(
            predictions_insert(
                [tweets[i]], [probabilities[i]], version=current.version, source=Source.API
            )[0]
        )

    measured = {
        "parse and check the JSON body": lambda i: TweetSerializer.parse(json.loads(bodies[i])),
        "active model and predict_one": lambda i: active_model.get().model.predict_one(
            tweets[i].text, tweets[i].keyword, tweets[i].location
        ),
        "INSERT ... RETURNING, counted in the metrics": insert,
        "  of which the metrics": lambda i: metrics.predictions_count(
            labels=["disaster"], probabilities=[0.5], model_version="v1", source="api"
        ),
        "represent and render the answer": lambda i: JSONRenderer().render(
            PredictionSerializer.represent(stored[i])
        ),
    }
    print(f"{'stage':48s} {'p50 ms':>8s}")
    total = 0.0
    for name, stage in measured.items():
        times = []
        for i in range(len(rows)):
            started = time.perf_counter()
            stage(i)
            times.append(time.perf_counter() - started)
        median = statistics.median(times) * 1000
        total += 0 if name.startswith(" ") else median
        print(f"{name:48s} {median:8.3f}")
    print(f"{'sum of the stages':48s} {total:8.3f}")
    print(f"{'the rest (WSGI, middleware, response)':48s} {request_p50 - total:8.3f}")


if __name__ == "__main__":
    main()
