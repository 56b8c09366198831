"""`make bench`: our service against the seed app on this machine, alternating, several rounds.

    python -m bench.run --rounds 2 --duration 10 [--data CSV] [--postgres | --database-url URL]

Writes bench/results.md (the table, the machine, the commit, the targets) and
bench/out/results.json (every round's numbers); logs and wrk outputs go to bench/out/.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from bench import jobs, report
from bench.cases import (
    Endpoint,
    batch_case,
    http_case,
    ours_endpoint,
    seed_endpoint,
    warm_up,
    write_bodies,
)
from bench.databases import (
    LOCAL_POSTGRES,
    BenchDatabase,
    postgres_database_create,
    postgres_database_drop,
    postgres_version,
)
from bench.servers import (
    ROOT,
    GunicornConfig,
    LoadMeter,
    Server,
    ours_environ,
    python_command,
    start_ours,
    start_seed,
)
from bench.wrk import wrk_version
from ml.data import Dataset, DatasetError, read_csv

OUT = ROOT / "bench" / "out"
RESULTS_MD = ROOT / "bench" / "results.md"
RESULTS_JSON = OUT / "results.json"
MANY_CLIENTS = 32


class BenchError(RuntimeError):
    """A setup problem with a one-line explanation (missing data, wrk, database...)."""


@dataclass(frozen=True)
class Settings:
    rounds: int
    duration_s: float
    warmup_s: float
    data: Path
    batch_requests: int
    calls: int
    gunicorn: GunicornConfig
    postgres_url: str | None  # None: no PostgreSQL column
    postgres_throwaway: bool  # created (and dropped) by the bench
    jobs: bool = True  # the background jobs section (bench/jobs.py)


def default_data() -> Path | None:
    """../shared/data/train.csv beside the repository, or beside its main worktree."""
    candidates = [ROOT.parent / "shared" / "data" / "train.csv"]
    common = subprocess.run(
        ["git", "rev-parse", "--path-format=absolute", "--git-common-dir"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    if common:
        candidates.append(Path(common).parent.parent / "shared" / "data" / "train.csv")
    return next((c for c in candidates if c.is_file()), None)


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def timed_command(command: list[str], env: dict[str, str], log: Path) -> float:
    """Run a command to completion (output to log); its wall time in seconds."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        started = time.monotonic()
        done = subprocess.run(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        seconds = time.monotonic() - started
    if done.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise BenchError(f"{' '.join(command)} failed ({done.returncode}):\n{tail}")
    return seconds


def in_process(which: str, settings: Settings, env: dict[str, str], models: Path | None) -> dict:
    command = python_command(
        "-m", "bench.inprocess", which, "--data", str(settings.data), "--calls", str(settings.calls)
    )
    if models is not None:
        command += ["--models", str(models)]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise BenchError(f"in-process timing of {which} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def serve_and_measure(
    server: Server,
    endpoint: Endpoint,
    settings: Settings,
    data: Dataset,
    database: BenchDatabase | None,
    meter: LoadMeter,
    tag: str,
) -> tuple[dict, dict]:
    """Wait for ready, warm up, run the HTTP cases, read memory; always stop the server."""
    values: dict = {}
    details: dict = {}
    try:
        ready = server.wait_ready()
        process_age = server.server_process_age_s()
        if server.name == "ours":
            values["ready_command_s"] = ready
            values["ready_s"] = process_age
        else:
            values["ready_s"] = ready
        warm_up(server, endpoint, settings.warmup_s)
        wrk_dir = OUT / "wrk"
        one = http_case(
            server,
            endpoint,
            connections=1,
            duration_s=settings.duration_s,
            database=database,
            output=wrk_dir / f"{tag}-1client.txt",
        )
        many = http_case(
            server,
            endpoint,
            connections=MANY_CLIENTS,
            duration_s=settings.duration_s,
            database=database,
            output=wrk_dir / f"{tag}-{MANY_CLIENTS}clients.txt",
        )
        details["http1"], details["http32"] = one.as_dict(), many.as_dict()
        values.update(
            http1_p50_ms=one.wrk.p50_us / 1e3,
            http1_p99_ms=one.wrk.p99_us / 1e3,
            http32_rps=many.wrk.requests_per_s,
            http32_p50_ms=many.wrk.p50_us / 1e3,
            http32_p99_ms=many.wrk.p99_us / 1e3,
            http32_cpu_ms=many.cpu_ms_per_request,
            http_errors=one.wrk.errors + many.wrk.errors,
            http_stored_ok=(None if database is None else bool(one.stored_ok and many.stored_ok)),
        )
        if database is not None:
            batch = batch_case(server, data, database, requests=settings.batch_requests, tag=tag)
            details["batch"] = batch
            values["batch_per_s"] = batch["per_s"]
            values["batch_stored_ok"] = batch["stored_ok"]
        pids = server.serving_pids()
        values["pss_mb"] = server.pss_bytes() / 1e6
        values["processes"] = len(pids)
        worker = re.search(r"Using worker: (\S+)", server.log_head())
        details["worker_class"] = worker.group(1) if worker else None
        values["other_load_pct"] = 100 * meter.other_share(server.cpu_seconds())
    finally:
        server.stop()
    return values, details


def _add_in_process(values: dict, details: dict, timing: dict) -> None:
    """A round's in-process timings: all of them in its details, the table's cells in values."""
    details["in_process"] = timing
    values.update(
        inproc_p50_ms=timing["single"]["p50_ms"],
        inproc_p99_ms=timing["single"]["p99_ms"],
        inproc_batch_per_s=timing["batch"]["per_s"],
    )


def round_ours(
    r: int, settings: Settings, data: Dataset, bodies: dict, *, postgres: bool
) -> tuple[dict, dict]:
    variant = report.OURS_PG if postgres else report.OURS
    data_dir = OUT / ("ours-postgres" if postgres else "ours-sqlite")
    database = (
        BenchDatabase(url=settings.postgres_url)
        if postgres
        else BenchDatabase(sqlite_path=data_dir / "db.sqlite3")
    )
    env = ours_environ(
        data_dir,
        settings.data,
        database_url=settings.postgres_url if postgres else None,
        gunicorn=settings.gunicorn,
    )
    logs = OUT / "logs"
    values: dict = {}
    if not postgres:
        # Each round trains a new version and serves it: forced past the promotion gate, which
        # would rightly refuse a retrain on the same data (the time includes the comparison).
        values["train_s"] = timed_command(
            python_command(
                "manage.py", "retrain", "--data", str(settings.data), "--force", "--reason", "bench"
            ),
            env,
            logs / f"{variant}-r{r}-retrain.log",
        )
    meter = LoadMeter()
    server = start_ours(env, logs / f"{variant}-r{r}-serve.log")
    measured, details = serve_and_measure(
        server, ours_endpoint(bodies), settings, data, database, meter, f"{variant}-r{r}"
    )
    values.update(measured)
    if not postgres:
        _add_in_process(values, details, in_process("ours", settings, env, None))
    return values, details


def round_seed(r: int, settings: Settings, data: Dataset, bodies: dict) -> tuple[dict, dict]:
    models = OUT / "seed" / "models"
    logs = OUT / "logs"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    values = {
        "train_s": timed_command(
            python_command(
                "bench/seed_app/train.py", "--data", str(settings.data), "--out", str(models)
            ),
            env,
            logs / f"seed-r{r}-train.log",
        )
    }
    meter = LoadMeter()
    server = start_seed(models, logs / f"seed-r{r}-serve.log")
    measured, details = serve_and_measure(
        server, seed_endpoint(bodies), settings, data, None, meter, f"seed-r{r}"
    )
    values.update(measured)
    _add_in_process(values, details, in_process("seed", settings, env, models))
    return values, details


def prepare_ours(settings: Settings, *, postgres: bool) -> float | None:
    """A fresh DATA_DIR and migrated database; for PostgreSQL also the first model (timed)."""
    data_dir = OUT / ("ours-postgres" if postgres else "ours-sqlite")
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    env = ours_environ(
        data_dir,
        settings.data,
        database_url=settings.postgres_url if postgres else None,
        gunicorn=settings.gunicorn,
    )
    name = "ours_pg" if postgres else "ours"
    timed_command(
        python_command("manage.py", "migrate", "--noinput"),
        env,
        OUT / "logs" / f"{name}-migrate.log",
    )
    if not postgres:
        return None
    return timed_command(
        python_command("manage.py", "retrain", "--data", str(settings.data)),
        env,
        OUT / "logs" / "ours_pg-retrain.log",
    )


def run(settings: Settings) -> dict:
    started = time.monotonic()
    data = read_csv(settings.data)
    shutil.rmtree(OUT / "logs", ignore_errors=True)
    shutil.rmtree(OUT / "wrk", ignore_errors=True)
    bodies = write_bodies(data, OUT)
    say(f"bench: {len(data)} rows from {settings.data}; {_plural(settings.rounds, 'round')}")
    prepare_ours(settings, postgres=False)
    pg_train_s = None
    if settings.postgres_url:
        say("bench: PostgreSQL database migrated; training its first model")
        pg_train_s = prepare_ours(settings, postgres=True)

    rounds, details = [], []
    for r in range(1, settings.rounds + 1):
        values, detail = {}, {}
        values[report.OURS], detail[report.OURS] = round_ours(
            r, settings, data, bodies, postgres=False
        )
        say(f"round {r}: ours   {_progress(values[report.OURS])}")
        values[report.SEED], detail[report.SEED] = round_seed(r, settings, data, bodies)
        say(f"round {r}: seed   {_progress(values[report.SEED])}")
        if settings.postgres_url:
            pg, detail[report.OURS_PG] = round_ours(r, settings, data, bodies, postgres=True)
            if r == 1:
                pg["train_s"] = pg_train_s
            values[report.OURS_PG] = pg
            say(f"round {r}: ours on PostgreSQL  {_progress(pg)}")
        rounds.append(values)
        details.append(detail)

    summary = report.summarize(rounds)
    jobs_result = None
    if settings.jobs:
        # From a copy of the last round's DATA_DIR: its model, and no second first training.
        jobs_settings = jobs.JobSettings(
            data=settings.data,
            rounds=settings.rounds,
            duration_s=settings.duration_s,
            copy_of=OUT / "ours-sqlite",
        )
        jobs_result = jobs.run_jobs(jobs_settings, data)
    result = {
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": report.git_commit(),
        "machine": report.machine(),
        "versions": {
            "wrk": wrk_version(),
            "sqlite": _sqlite_version(),
            "postgresql": postgres_version(settings.postgres_url)
            if settings.postgres_url
            else None,
        },
        "settings": {
            "rounds": settings.rounds,
            "duration_s": settings.duration_s,
            "warmup_s": settings.warmup_s,
            "data": str(settings.data),
            "batch_requests": settings.batch_requests,
            "calls": settings.calls,
            "gunicorn": settings.gunicorn.label(),
            "postgres_url": settings.postgres_url,
        },
        "data_rows": len(data),
        "rounds": rounds,
        "details": details,
        "summary": summary,
        "targets": report.target_verdicts(summary),
        "worker_class": details[0][report.OURS].get("worker_class"),
        "jobs": jobs_result,
        "bench_seconds": time.monotonic() - started,
    }
    return result


def _progress(values: dict) -> str:
    parts = [
        ("train", values.get("train_s"), "s"),
        ("ready", values.get("ready_s"), "s"),
        ("1 client p50", values.get("http1_p50_ms"), "ms"),
        ("32 clients", values.get("http32_rps"), "req/s"),
        ("errors", values.get("http_errors"), ""),
        ("batch", values.get("batch_per_s"), "/s"),
        ("in-process p50", values.get("inproc_p50_ms"), "ms"),
        ("PSS", values.get("pss_mb"), "MB"),
    ]
    return ", ".join(
        f"{name} {value:.3g}{unit}" for name, value, unit in parts if value is not None
    )


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _sqlite_version() -> str:
    import sqlite3

    return sqlite3.sqlite_version


def results_markdown(result: dict) -> str:
    """bench/results.md."""
    m, s, v = result["machine"], result["settings"], result["versions"]
    summary = result["summary"]
    versions = f"{v['wrk']}, SQLite {v['sqlite']}" + (
        f", PostgreSQL {v['postgresql']}" if v["postgresql"] else ""
    )
    order = "ours, seed" + (", ours on PostgreSQL" if s["postgres_url"] else "")
    workers = summary.get(report.OURS, {}).get("processes")
    gunicorn = s["gunicorn"] if s["gunicorn"] != "default" else "gunicorn.conf.py defaults"
    if workers:
        gunicorn += f": {int(workers) - 1} {result['worker_class'] or '?'} workers"
    lines = [
        "# Benchmark results",
        "",
        f"Written by `make bench` on {result['generated']} in "
        f"{result['bench_seconds'] / 60:.1f} min. How each number is measured: "
        "[bench/README.md](README.md).",
        "",
        f"- Commit: {result['commit']}",
        f"- Machine: {m['cores']} cores ({m['usable_cores']} usable), {m['cpu_model']}, "
        f"{m['memory_gb']} GB memory; Linux {m['kernel']}, Python {m['python']}, {versions}",
        f"- Data: `{s['data']}` ({result['data_rows']:,} rows), for both models",
        f"- {_plural(s['rounds'], 'round')} alternating {order}; each cell is the median of the "
        "rounds "
        f"(errors: the sum). HTTP cases run {s['duration_s']:g} s each after a "
        f"{s['warmup_s']:g} s warm-up: one client is `wrk -t1 -c1`, 32 clients `wrk -t2 -c32`.",
        f"- Ours: `make serve` ({gunicorn}), DEBUG off, throttling off, every prediction stored. "
        "Seed: its Flask app on Flask's threaded development server, nothing stored.",
        "",
    ]
    lines += _contention_notes(result)
    lines += [
        "## Results",
        "",
        report.markdown_table(report.comparison_table(summary)),
        "",
        "## Targets",
        "",
        report.markdown_table(report.targets_table(summary)),
        "",
        "## Each round",
        "",
        report.markdown_table(_rounds_table(result["rounds"])),
        "",
    ]
    if result.get("jobs"):
        lines += jobs.jobs_markdown(result["jobs"])
    return "\n".join(lines)


def _contention_notes(result: dict) -> list[str]:
    busy = []
    for r, values in enumerate(result["rounds"], start=1):
        for variant, measured in values.items():
            share = measured.get("other_load_pct")
            if share is not None and share >= 100 * report.CONTENTION_WARNING:
                busy.append(f"round {r} {report.VARIANT_LABELS[variant]} {share:.0f}%")
    if not busy:
        return [
            "Other processes used less than "
            f"{100 * report.CONTENTION_WARNING:.0f}% of the machine while each server ran.",
            "",
        ]
    return [
        "**CPU contention:** other processes (other sessions' tests and servers"
        + (
            ", and the PostgreSQL server for its column"
            if result["settings"]["postgres_url"]
            else ""
        )
        + ") took a share of the machine while these servers ran: "
        + "; ".join(busy)
        + ". Those rounds are slower than an idle machine would give; compare ours and "
        "the seed within a round, and prefer the medians.",
        "",
    ]


def _rounds_table(rounds: list[dict]) -> list[list[str]]:
    keys = [
        ("http1_p50_ms", "1 client p50 ms", 2),
        ("http32_rps", "32 clients req/s", 0),
        ("http32_p99_ms", "32 clients p99 ms", 1),
        ("http32_cpu_ms", "CPU ms/req", 2),
        ("http_errors", "errors", 0),
        ("batch_per_s", "batch /s", 0),
        ("inproc_p50_ms", "in-process p50 ms", 3),
        ("train_s", "train s", 1),
        ("ready_s", "ready s", 2),
        ("pss_mb", "PSS MB", 0),
        ("other_load_pct", "other load %", 0),
    ]
    table = [["Round", "Server", *[label for _, label, _ in keys]]]
    for r, values in enumerate(rounds, start=1):
        for variant, measured in values.items():
            table.append(
                [str(r), report.VARIANT_LABELS[variant]]
                + [report.format_value(measured.get(k), d) for k, _, d in keys]
            )
    return table


def parse_settings(argv: Sequence[str] | None) -> Settings:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--rounds", type=int, default=2, help="rounds of ours then seed (≥ 1)")
    parser.add_argument("--duration", type=float, default=10, help="seconds per HTTP case")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of warm-up per server")
    parser.add_argument("--data", type=Path, help="training CSV (default ../shared/data/train.csv)")
    parser.add_argument("--batch-requests", type=int, default=5, help="1,000-item batch calls")
    parser.add_argument("--calls", type=int, default=2000, help="in-process single predictions")
    parser.add_argument(
        "--postgres",
        action="store_true",
        help=f"also run ours on a throwaway database on {LOCAL_POSTGRES.rsplit('/', 1)[0]}",
    )
    parser.add_argument(
        "--database-url", help="also run ours on this (existing) PostgreSQL database"
    )
    parser.add_argument(
        "--no-jobs", action="store_true", help="skip the background jobs (bench/jobs.py)"
    )
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.duration <= 0 or args.calls < 1000:
        parser.error("need --rounds ≥ 1, --duration > 0 and --calls ≥ 1000")
    return Settings(
        rounds=args.rounds,
        duration_s=args.duration,
        warmup_s=args.warmup,
        data=data_path(args.data),
        batch_requests=args.batch_requests,
        calls=args.calls,
        gunicorn=GunicornConfig.from_env(dict(os.environ)),
        postgres_url=args.database_url or None,
        postgres_throwaway=bool(args.postgres and not args.database_url),
        jobs=not args.no_jobs,
    )


def data_path(given: Path | None) -> Path:
    path = given or default_data()
    if path is None:
        raise BenchError(
            "no training data: pass DATA=path/to/train.csv (looked for ../shared/data/train.csv "
            "beside the repository)"
        )
    if not path.is_file():
        raise BenchError(f"training data {path} does not exist")
    return path.resolve()


def stop_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit so the `finally` blocks stop the servers."""

    def handler(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


def main(argv: Sequence[str] | None = None) -> int:
    stop_on_sigterm()
    try:
        settings = parse_settings(argv)
        if shutil.which("wrk") is None:
            raise BenchError("wrk is not installed (make bench installs it: apt-get install wrk)")
        if settings.postgres_throwaway:
            settings = replace(settings, postgres_url=postgres_database_create())
        try:
            result = run(settings)
        finally:
            if settings.postgres_throwaway and settings.postgres_url:
                postgres_database_drop(settings.postgres_url)
    except (BenchError, DatasetError) as error:
        say(f"bench: {error}")
        return 1
    report.write_text(RESULTS_JSON, json.dumps(result, indent=2) + "\n")
    report.write_text(RESULTS_MD, results_markdown(result))
    print()
    print(report.plain_table(report.comparison_table(result["summary"])))
    print()
    print(report.plain_table(report.targets_table(result["summary"])))
    print()
    print(
        f"Wrote {RESULTS_MD.relative_to(ROOT)} and {RESULTS_JSON.relative_to(ROOT)} "
        f"in {result['bench_seconds'] / 60:.1f} min."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
