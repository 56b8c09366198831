"""`make bench-workers`: only the 32-client HTTP case, for several gunicorn worker settings.

    python -m bench.workers --configs "default sync:2 sync:4 gthread:2:4 gthread:2:8" --rounds 2

A config is `default` (gunicorn.conf.py as it is), CLASS:WORKERS or gthread:WORKERS:THREADS;
`seed` adds the seed app for scale. Configs alternate within each round; the table shows the
medians. Writes bench/results-workers.md and bench/out/workers.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from bench import report
from bench.cases import http_case, ours_endpoint, seed_endpoint, warm_up, write_bodies
from bench.databases import BenchDatabase
from bench.run import OUT, BenchError, LoadMeter, data_path, say, stop_on_sigterm, timed_command
from bench.servers import (
    ROOT,
    GunicornConfig,
    ours_environ,
    python_command,
    start_ours,
    start_seed,
)
from ml.data import DatasetError, read_csv

DEFAULT_CONFIGS = "default sync:2 sync:4 gthread:2:4 gthread:2:8"
RESULTS_MD = ROOT / "bench" / "results-workers.md"
DATA_DIR = OUT / "workers-sqlite"
SEED_MODELS = OUT / "seed" / "models"


def prepare(data: Path) -> None:
    """A DATA_DIR with a model trained on `data`; kept between runs while `data` is unchanged."""
    marker = DATA_DIR / "trained-on.json"
    stat = data.stat()
    wanted = {"data": str(data), "size": stat.st_size, "mtime": stat.st_mtime}
    if marker.is_file() and json.loads(marker.read_text()) == wanted:
        return
    shutil.rmtree(DATA_DIR, ignore_errors=True)
    DATA_DIR.mkdir(parents=True)
    env = ours_environ(DATA_DIR, data)
    say(f"bench-workers: training a model on {data} (once; kept in {DATA_DIR})")
    logs = OUT / "logs"
    timed_command(python_command("manage.py", "migrate", "--noinput"), env, logs / "w-migrate.log")
    timed_command(
        python_command("manage.py", "retrain", "--data", str(data)), env, logs / "w-retrain.log"
    )
    marker.write_text(json.dumps(wanted))


def measure(config: str, data: Path, bodies: dict, duration_s: float, tag: str) -> dict:
    """Start one configuration, warm it up, run 32 clients, read memory, stop it."""
    logs = OUT / "logs"
    if config == "seed":
        if not (SEED_MODELS / "model.pkl").is_file():
            timed_command(
                python_command(
                    "bench/seed_app/train.py", "--data", str(data), "--out", str(SEED_MODELS)
                ),
                dict(os.environ),
                logs / "w-seed-train.log",
            )
        meter = LoadMeter()
        server = start_seed(SEED_MODELS, logs / f"{tag}.log")
        endpoint, database = seed_endpoint(bodies), None
    else:
        env = ours_environ(DATA_DIR, data, gunicorn=GunicornConfig.parse(config))
        meter = LoadMeter()
        server = start_ours(env, logs / f"{tag}.log")
        endpoint = ours_endpoint(bodies)
        database = BenchDatabase(sqlite_path=DATA_DIR / "db.sqlite3")
    try:
        server.wait_ready()
        warm_up(server, endpoint)
        result = http_case(
            server,
            endpoint,
            connections=32,
            duration_s=duration_s,
            database=database,
            output=OUT / "wrk" / f"{tag}.txt",
        )
        pss_mb = server.pss_bytes() / 1e6
        processes = len(server.serving_pids())
        other = 100 * meter.other_share(server.cpu_seconds())
    finally:
        server.stop()
    return {
        "rps": result.wrk.requests_per_s,
        "p50_ms": result.wrk.p50_us / 1e3,
        "p99_ms": result.wrk.p99_us / 1e3,
        "cpu_ms": result.cpu_ms_per_request,
        "errors": result.wrk.errors,
        "stored_ok": result.stored_ok,
        "pss_mb": pss_mb,
        "processes": processes,
        "other_load_pct": other,
    }


def table(configs: list[str], rounds: list[dict]) -> list[list[str]]:
    header = ["Config", "req/s", "p50 ms", "p99 ms", "CPU ms/req", "errors", "all stored"]
    header += ["PSS MB", "procs"]
    header.append("other load %")
    rows = [header]
    for config in configs:
        runs = [r[config] for r in rounds]

        def med(key: str, runs: list[dict] = runs):
            return report.combine([run[key] for run in runs], "median")

        rows.append(
            [
                config,
                report.format_value(med("rps"), 0),
                report.format_value(med("p50_ms"), 1),
                report.format_value(med("p99_ms"), 1),
                report.format_value(med("cpu_ms"), 2),
                report.format_value(sum(run["errors"] for run in runs), 0),
                report.format_value(report.combine([run["stored_ok"] for run in runs], "all")),
                report.format_value(med("pss_mb"), 0),
                report.format_value(med("processes"), 0),
                report.format_value(med("other_load_pct"), 0),
            ]
        )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.workers", description=__doc__)
    parser.add_argument("--configs", default=DEFAULT_CONFIGS, help=f'default "{DEFAULT_CONFIGS}"')
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--duration", type=float, default=10, help="seconds of the 32-client run")
    parser.add_argument("--data", type=Path, help="training CSV (default ../shared/data/train.csv)")
    args = parser.parse_args(argv)
    configs = args.configs.split()
    stop_on_sigterm()
    try:
        for config in configs:
            if config != "seed":
                GunicornConfig.parse(config)
        if shutil.which("wrk") is None:
            raise BenchError("wrk is not installed (make bench-workers installs it)")
        data = data_path(args.data)
        started = time.monotonic()
        bodies = write_bodies(read_csv(data), OUT)
        prepare(data)
        rounds = []
        for r in range(1, args.rounds + 1):
            measured = {}
            for config in configs:
                tag = f"workers-r{r}-{config.replace(':', '-')}"
                measured[config] = measure(config, data, bodies, args.duration, tag)
                m = measured[config]
                say(f"round {r} {config}: {m['rps']:.0f} req/s, p99 {m['p99_ms']:.0f} ms")
            rounds.append(measured)
    except (BenchError, DatasetError, ValueError) as error:
        say(f"bench-workers: {error}")
        return 1
    rows = table(configs, rounds)
    machine = report.machine()
    result = {
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": report.git_commit(),
        "machine": machine,
        "duration_s": args.duration,
        "rounds": rounds,
        "seconds": time.monotonic() - started,
    }
    report.write_text(OUT / "workers.json", json.dumps(result, indent=2) + "\n")
    report.write_text(
        RESULTS_MD,
        "\n".join(
            [
                "# Gunicorn worker settings, 32 clients",
                "",
                f"Written by `make bench-workers` on {result['generated']}; commit "
                f"{result['commit']}; {machine['cores']} cores, {machine['cpu_model']}, "
                f"{machine['memory_gb']} GB. `wrk -t2 -c32` for {args.duration:g} s against "
                f"`POST /api/predictions/` (SQLite) after a 2 s warm-up; median of "
                f"{args.rounds} rounds, configs alternating. `other load` is the CPU other "
                "processes took meanwhile (contention).",
                "",
                report.markdown_table(rows),
                "",
            ]
        ),
    )
    print(report.plain_table(rows))
    print(f"\nWrote {RESULTS_MD.relative_to(ROOT)} in {result['seconds'] / 60:.1f} min.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
