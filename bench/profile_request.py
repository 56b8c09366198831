"""Profile one prediction request through the whole Django stack, in process (no HTTP server).

    .venv/bin/python bench/profile_request.py [--data CSV] [--requests 3000] [--top 30]

Calls the production WSGI application (DEBUG off, the real middleware) with `POST
/api/predictions/` bodies against a throwaway SQLite database, prints the per-request wall time
and the functions where the time goes (cProfile, sorted by cumulative then own time).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "sample_tweets.csv")
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="profile-request-"))
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "disaster_site.settings",
            "SECRET_KEY": "profile-only-" + "x" * 40,
            "DEBUG": "0",
            "DATA_DIR": str(data_dir),
            "ENV_FILE": "",
            "PREDICTION_THROTTLE_RATE": "none",
            "ALLOWED_HOSTS": "127.0.0.1",
        }
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("ensure_model", "--data", str(args.data), verbosity=0)
    call_command("collectstatic", "--noinput", verbosity=0)

    from disaster_site.wsgi import application

    def environ(i: int) -> dict:
        body = json.dumps({"text": f"Forest fire near La Ronge Sask. Canada #{i}"}).encode()
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

    profiler = cProfile.Profile()
    profiler.enable()
    for i in range(args.requests):
        call(i)
    profiler.disable()
    for order in ("cumulative", "tottime"):
        stats = pstats.Stats(profiler)
        stats.sort_stats(order).print_stats(args.top)


if __name__ == "__main__":
    main()
