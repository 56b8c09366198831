"""Background jobs under `make bench`: CSV scoring rows/s end to end, and single-prediction
latency with no job, during a 100,000-row CSV job and during a training.

    python -m bench.jobs [--data CSV] [--rounds 1] [--duration 10] [--clients 4] [--pause-ms 20]
                         [--worker auto|serve|own] [--no-profile] [--copy-of DATA_DIR]

Alone, it replaces the "Background jobs" section of bench/results.md and the "jobs" entry of
bench/out/results.json (or writes them when there are none); `make bench` runs it after the
rounds. How each number is measured: bench/README.md.
"""

from __future__ import annotations

import argparse
import csv
import http.client
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench import report
from bench.cases import JSON, ours_endpoint, warm_up, write_bodies
from bench.databases import BenchDatabase
from bench.servers import (
    ROOT,
    LoadMeter,
    Server,
    job_worker_pids,
    niceness,
    ours_environ,
    process_cpu_seconds,
    python_command,
    start_job_worker,
    start_ours,
)
from bench.wrk import WrkResult, WrkUntilStopped, wrk_command
from ml.data import Dataset, read_csv

OUT = ROOT / "bench" / "out"
DATA_DIR = OUT / "jobs-sqlite"
RESULTS_MD = ROOT / "bench" / "results.md"
RESULTS_JSON = OUT / "results.json"
SECTION = "## Background jobs"
SIZES = (10_000, 100_000)
TARGET_ROWS = 100_000
TARGET_ROWS_PER_S = 10_000
POLL_S = 0.1
WORKER_NICENESS = 10
WORKER_INTERVAL_S = 0.5
FINISHED = ("succeeded", "failed")
FIRST_JOB = "1k-unique, the worker's first job (it loads the model)"


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# The CSV files -----------------------------------------------------------------------------------


def csv_build(data: Dataset, rows: int, *, unique: bool) -> bytes:
    """A CSV upload of `rows` tweets, the data set's rows repeated in order: columns id (passed
    through), keyword, location, text. With `unique`, each text ends in a token of its own
    (" u<row in hex>"), so no two rows repeat."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["id", "keyword", "location", "text"])
    n = len(data)
    for i in range(rows):
        j = i % n
        text = f"{data.text[j]} u{i:x}" if unique else data.text[j]
        writer.writerow([i + 1, data.keyword[j], data.location[j], text])
    return out.getvalue().encode("utf-8")


def variant_name(rows: int, *, unique: bool) -> str:
    return f"{rows // 1000}k-{'unique' if unique else 'repeated'}"


# The API, as a staff user with a token -----------------------------------------------------------


@dataclass(frozen=True)
class Api:
    port: int
    token: str

    def call(
        self, method: str, path: str, body: bytes | None = None, content_type: str = JSON
    ) -> tuple[int, dict]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
        headers = {"Authorization": f"Token {self.token}", "Accept": JSON}
        if body is not None:
            headers["Content-Type"] = content_type
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            raw = response.read()
        finally:
            connection.close()
        return response.status, json.loads(raw) if raw else {}


def staff_token(env: dict[str, str], username: str = "bench") -> str:
    """A superuser and its DRF token, made with Django's and DRF's own commands."""
    email = f"{username}@example.com"
    created = subprocess.run(
        python_command(
            "manage.py", "createsuperuser", "--noinput", "--username", username, "--email", email
        ),
        cwd=ROOT,
        env={**env, "DJANGO_SUPERUSER_PASSWORD": "bench-password-" + "x" * 20},
        capture_output=True,
        text=True,
    )
    if created.returncode != 0 and "already taken" not in created.stderr:
        raise RuntimeError(f"createsuperuser failed:\n{created.stderr[-2000:]}")
    token = subprocess.run(
        python_command("manage.py", "drf_create_token", username),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return token.stdout.split()[2]  # "Generated token KEY for user NAME"


# One job, timed ----------------------------------------------------------------------------------


def job_seconds(job: dict) -> dict[str, float | None]:
    """From a job's JSON: queued (created -> started) and run (started -> finished), in s."""

    def at(key: str) -> datetime | None:
        value = job.get(key)
        return datetime.fromisoformat(value) if value else None

    created, started, finished = at("created"), at("started"), at("finished")
    return {
        "queued_s": (started - created).total_seconds() if created and started else None,
        "run_s": (finished - started).total_seconds() if started and finished else None,
    }


@dataclass
class JobRun:
    """A job from its request to the poll that saw it finished."""

    kind: str
    name: str  # the case: "100k-unique", "training"...; rounds of a case share it
    rows: int | None
    request_s: float  # the POST, until its 202
    end_to_end_s: float  # the POST's start until a poll saw the job finished
    status: str
    queued_s: float | None
    run_s: float | None
    predictions_before: int | None
    stages: list[tuple[float, str, int]] = field(default_factory=list)
    result: dict | None = None
    error: str | None = None
    other_load_pct: float | None = None
    worker_cpu_s: float | None = None  # the job worker's CPU, with its scoring processes

    @property
    def rows_per_s(self) -> float | None:
        ok = self.rows and self.status == "succeeded"
        return self.rows / self.end_to_end_s if ok else None

    @property
    def job_rows_per_s(self) -> float | None:
        ok = self.rows and self.status == "succeeded" and self.run_s
        return self.rows / self.run_s if ok else None

    def as_dict(self) -> dict:
        return asdict(self) | {"rows_per_s": self.rows_per_s, "job_rows_per_s": self.job_rows_per_s}


def job_run(
    api: Api,
    *,
    kind: str,
    name: str,
    path: str,
    body: bytes | None = None,
    content_type: str = JSON,
    rows: int | None = None,
    database: BenchDatabase | None = None,
    timeout_s: float = 900,
) -> JobRun:
    """POST a job, poll GET /api/jobs/{id}/ every POLL_S until it has finished."""
    before = database.prediction_count() if database else None
    started = time.perf_counter()
    status, job = api.call("POST", path, body, content_type)
    request_s = time.perf_counter() - started
    if status != 202:
        raise RuntimeError(f"POST {path}: {status} {job}")
    stages: list[tuple[float, str, int]] = []
    deadline = started + timeout_s
    while job["status"] not in FINISHED:
        if time.perf_counter() > deadline:
            raise RuntimeError(f"job {job['id']} not finished after {timeout_s:g} s: {job}")
        time.sleep(POLL_S)
        status, job = api.call("GET", f"/api/jobs/{job['id']}/")
        if status != 200:
            raise RuntimeError(f"GET /api/jobs/{job.get('id')}/: {status} {job}")
        stage = (job["stage"], job["progress"])
        if not stages or stages[-1][1:] != stage:
            stages.append((round(time.perf_counter() - started, 2), *stage))
    end_to_end = time.perf_counter() - started
    return JobRun(
        kind=kind,
        name=name,
        rows=rows,
        request_s=request_s,
        end_to_end_s=end_to_end,
        status=job["status"],
        predictions_before=before,
        stages=stages,
        result=job.get("result"),
        error=job.get("error") or None,
        **job_seconds(job),
    )


def csv_job(
    api: Api, body: bytes, *, rows: int, name: str, database: BenchDatabase | None
) -> JobRun:
    return job_run(
        api,
        kind="csv",
        name=name,
        path="/api/predictions/csv/",
        body=body,
        content_type="text/csv",
        rows=rows,
        database=database,
    )


def training_job(api: Api) -> JobRun:
    return job_run(api, kind="training", name="training", path="/api/models/")


# Latency of single predictions meanwhile ---------------------------------------------------------


def latency_dict(result: WrkResult, *, seconds: float) -> dict:
    return {
        "p50_ms": result.p50_us / 1e3,
        "p99_ms": result.p99_us / 1e3,
        "requests": result.requests,
        "requests_per_s": result.requests_per_s,
        "errors": result.errors,
        "seconds": seconds,
    }


# The run -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobSettings:
    data: Path
    rounds: int = 1
    duration_s: float = 10
    clients: int = 4
    pause_ms: float = 20
    worker: str = "auto"  # auto, serve (make serve's own worker) or own (the bench starts one)
    profile: bool = True
    copy_of: Path | None = None  # start from a copy of this DATA_DIR, not a new first model


def serve_starts_worker(makefile: str) -> bool:
    """Whether `make serve` starts the job worker itself (the RUN_WORKER switch exists)."""
    return "RUN_WORKER" in makefile


def worker_mode(requested: str, makefile: str) -> str:
    """ "serve" or "own": auto follows the Makefile."""
    if requested != "auto":
        return requested
    return "serve" if serve_starts_worker(makefile) else "own"


class Bench:
    """One server (`make serve`), its job worker, a staff token, and the cases."""

    def __init__(self, settings: JobSettings, data: Dataset) -> None:
        self.settings = settings
        self.data = data
        self.mode = worker_mode(settings.worker, (ROOT / "Makefile").read_text())
        self.env = ours_environ(DATA_DIR, settings.data) | {
            "RUN_WORKER": "1" if self.mode == "serve" else "0"
        }
        self.database = BenchDatabase(sqlite_path=DATA_DIR / "db.sqlite3")
        self.server: Server | None = None
        self.worker: Server | None = None
        self.worker_pid: int | None = None
        self.api: Api | None = None
        self.endpoint = ours_endpoint(write_bodies(data, OUT))

    def start(self) -> None:
        logs = OUT / "logs"
        self.server = start_ours(self.env, logs / "jobs-serve.log")
        self.server.wait_ready()
        if self.mode == "own":
            self.worker = start_job_worker(
                self.env,
                logs / "jobs-worker.log",
                niceness=WORKER_NICENESS,
                interval_s=WORKER_INTERVAL_S,
            )
            # `nice` execs the worker: the process started is the worker.
            self.worker_pid = self.worker.process.pid
        else:
            self.worker_pid = self._wait_worker(self.server.process.pid)
        self.api = Api(self.server.port, staff_token(self.env))
        warm_up(self.server, self.endpoint, 2)

    def _wait_worker(self, root: int, timeout_s: float = 60) -> int:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            pids = job_worker_pids(root)
            if pids:
                return pids[0]
            time.sleep(0.2)
        raise RuntimeError(
            f"no db_worker process under pid {root} after {timeout_s:g} s (worker mode "
            f"{self.mode}; RUN_WORKER={self.env['RUN_WORKER']})"
        )

    def stop(self) -> None:
        for process in (self.worker, self.server):
            if process is not None:
                process.stop()

    def cpu_seconds(self) -> float:
        """The server's process group plus a worker the bench started (its own group)."""
        assert self.server is not None
        own = self.worker.cpu_seconds() if self.worker is not None else 0.0
        return self.server.cpu_seconds() + own

    def worker_cpu_seconds(self) -> float:
        assert self.worker_pid is not None
        return process_cpu_seconds(self.worker_pid)

    def measured(self, run: JobRun, meter: LoadMeter, cpu: tuple[float, float]) -> JobRun:
        """The other load and the worker's CPU since `cpu` (the server's, the worker's)."""
        run.other_load_pct = 100 * meter.other_share(self.cpu_seconds() - cpu[0])
        run.worker_cpu_s = self.worker_cpu_seconds() - cpu[1]
        return run

    def csv_case(self, rows: int, *, unique: bool, name: str | None = None) -> JobRun:
        assert self.api is not None
        body = csv_build(self.data, rows, unique=unique)
        meter, cpu = LoadMeter(), (self.cpu_seconds(), self.worker_cpu_seconds())
        name = name or variant_name(rows, unique=unique)
        run = csv_job(self.api, body, rows=rows, name=name, database=self.database)
        return self.measured(run, meter, cpu)

    def load(self) -> WrkUntilStopped:
        assert self.server is not None
        return WrkUntilStopped(
            wrk_command(
                self.server.base_url + self.endpoint.path,
                bodies=self.endpoint.bodies,
                content_type=self.endpoint.content_type,
                connections=self.settings.clients,
                duration_s=3600,
                pause_ms=self.settings.pause_ms,
            )
        )

    def latency_during(self, start_job) -> tuple[dict, JobRun | None]:
        """Single predictions under the paced load while start_job() runs (for duration_s
        when it is None); the latencies and the job."""
        meter, cpu = LoadMeter(), (self.cpu_seconds(), self.worker_cpu_seconds())
        started = time.perf_counter()
        load = self.load()
        try:
            if start_job is None:
                time.sleep(self.settings.duration_s)
                run = None
            else:
                run = start_job()
        finally:
            result, _ = load.stop()
        seconds = time.perf_counter() - started
        latency = latency_dict(result, seconds=seconds)
        if run is not None:
            self.measured(run, meter, cpu)
        latency["other_load_pct"] = 100 * meter.other_share(self.cpu_seconds() - cpu[0])
        return latency, run


def prepare(copy_of: Path | None, env: dict[str, str]) -> None:
    """A fresh DATA_DIR, migrated and with an active model: a copy of a stopped server's (its
    database and models), or a new one where a first model is trained."""
    shutil.rmtree(DATA_DIR, ignore_errors=True)
    if copy_of is not None and (copy_of / "db.sqlite3").is_file():
        ignore = shutil.ignore_patterns("static", "*.write-lock", "*-shm")
        shutil.copytree(copy_of, DATA_DIR, ignore=ignore)
    else:
        DATA_DIR.mkdir(parents=True)
    # The first model is trained here, not by `make serve`: that would count against the time
    # the server is given to get ready, and training takes long on a busy machine.
    for command in (("migrate", "--noinput"), ("ensure_model",)):
        subprocess.run(
            python_command("manage.py", *command),
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            check=True,
        )


def run_jobs(settings: JobSettings, data: Dataset | None = None) -> dict:
    """Every case on one server; the "jobs" entry of results.json."""
    started = time.monotonic()
    copy_of = settings.copy_of
    data = data or read_csv(settings.data)
    bench = Bench(settings, data)
    say("jobs: preparing " + ("a copy of " + str(copy_of) if copy_of else "a first model"))
    prepare(copy_of, bench.env)
    say(f"jobs: starting make serve (worker: {bench.mode})")
    runs: list[JobRun] = []
    latency: dict[str, dict] = {}
    try:
        bench.start()
        assert bench.worker_pid is not None
        worker = {
            "mode": bench.mode,
            "niceness": niceness(bench.worker_pid),
            "gunicorn_niceness": _gunicorn_niceness(bench.server),
        }
        first = bench.csv_case(1000, unique=True, name=FIRST_JOB)
        runs.append(first)
        say(f"jobs: {_progress(first)}")
        for _ in range(settings.rounds):
            for rows in SIZES:
                for unique in (False, True):
                    run = bench.csv_case(rows, unique=unique)
                    runs.append(run)
                    say(f"jobs: {_progress(run)}")
        latency["none"], _ = bench.latency_during(None)
        say(f"jobs: no job, p99 {latency['none']['p99_ms']:.1f} ms")
        body = csv_build(data, TARGET_ROWS, unique=True)
        assert bench.api is not None
        api = bench.api
        latency["csv"], run = bench.latency_during(
            lambda: csv_job(
                api,
                body,
                rows=TARGET_ROWS,
                name=variant_name(TARGET_ROWS, unique=True) + ", during the load",
                database=bench.database,
            )
        )
        runs.append(run)
        say(f"jobs: during {_progress(run)}; p99 {latency['csv']['p99_ms']:.1f} ms")
        latency["training"], run = bench.latency_during(lambda: training_job(api))
        runs.append(run)
        say(f"jobs: during {_progress(run)}; p99 {latency['training']['p99_ms']:.1f} ms")
        worker["cpu_s"] = process_cpu_seconds(bench.worker_pid)
    finally:
        bench.stop()
    profile = run_profile(settings, bench.env) if settings.profile else None
    return {
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": report.git_commit(),
        "settings": asdict(settings) | {"data": str(settings.data), "copy_of": str(copy_of)},
        "worker": worker,
        "runs": [run.as_dict() for run in runs],
        "csv": csv_summary(runs),
        "latency": latency,
        "profile": profile,
        "seconds": time.monotonic() - started,
    }


def _gunicorn_niceness(server: Server | None) -> int | None:
    pids = server.serving_pids() if server else []
    return niceness(pids[0]) if pids else None


def _progress(run: JobRun) -> str:
    speed = f", {run.rows_per_s:,.0f} rows/s" if run.rows_per_s else ""
    return f"{run.name}: {run.status} in {run.end_to_end_s:.1f} s{speed}"


def csv_summary(runs: Sequence[JobRun]) -> dict[str, dict]:
    """Per file variant (rounds combined by the median): rows, end-to-end s and rows/s, the
    job's own run s and rows/s, the database's predictions before it. Runs under load and the
    first job are kept apart."""
    groups: dict[str, list[JobRun]] = {}
    for run in runs:
        if run.kind == "csv":
            groups.setdefault(run.name, []).append(run)
    summary = {}
    for name, group in groups.items():
        ok = [r for r in group if r.status == "succeeded"]
        summary[name] = {
            "rows": group[0].rows,
            "runs": len(group),
            "failed": len(group) - len(ok),
            "end_to_end_s": _median([r.end_to_end_s for r in ok]),
            "rows_per_s": _median([r.rows_per_s for r in ok]),
            "run_s": _median([r.run_s for r in ok]),
            "job_rows_per_s": _median([r.job_rows_per_s for r in ok]),
            "queued_s": _median([r.queued_s for r in ok]),
            "request_s": _median([r.request_s for r in ok]),
            "predictions_before": _median([r.predictions_before for r in ok]),
            "worker_cpu_s": _median([r.worker_cpu_s for r in ok]),
            "other_load_pct": max((r.other_load_pct or 0 for r in group), default=None),
        }
    return summary


def _median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


# Where a CSV job's time goes (in process, bench/jobs_profile.py) --------------------------------


def run_profile(settings: JobSettings, env: dict[str, str]) -> dict | None:
    """bench.jobs_profile on a copy of the bench's database (the server is stopped)."""
    copy = OUT / "jobs-profile"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(DATA_DIR, copy, ignore=shutil.ignore_patterns("static", "*.write-lock"))
    command = python_command(
        "-m", "bench.jobs_profile", "--data", str(settings.data), "--rows", str(TARGET_ROWS)
    )
    profile_env = ours_environ(copy, settings.data)
    say("jobs: profiling a 100,000-row CSV job in process")
    done = subprocess.run(command, cwd=ROOT, env=profile_env, capture_output=True, text=True)
    shutil.rmtree(copy, ignore_errors=True)
    if done.returncode != 0:
        say(f"jobs: the profile failed:\n{done.stderr[-3000:]}")
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


# results.md --------------------------------------------------------------------------------------


def _f(value, digits: int = 1) -> str:
    return report.format_value(value, digits)


def jobs_markdown(jobs: dict) -> list[str]:
    """The "Background jobs" section of results.md."""
    s, worker = jobs["settings"], jobs["worker"]
    csv_rows = jobs["csv"]
    lines = [
        SECTION,
        "",
        f"Measured on {jobs['generated']} (commit {jobs['commit']}) in "
        f"{jobs['seconds'] / 60:.1f} min by `python -m bench.jobs` (`make bench` runs it after the "
        "rounds). "
        f"One `make serve` with its own `DATA_DIR` (`bench/out/jobs-sqlite/`, SQLite; "
        f"{_data_dir_text(s.get('copy_of'))}) and its job worker ({_worker_text(worker)}). "
        "CSV files are POSTed to "
        "`/api/predictions/csv/` as `text/csv` by a staff user (token); `/api/jobs/{id}/` is "
        f"polled every {POLL_S:g} s. End to end: from the upload's start to the poll that saw "
        "`succeeded`; job: its own `started` -> `finished`. Files repeat the training data's rows "
        "in order (`repeated`: the same texts again, which keeps the vectorizer's word cache "
        "warmer than fresh tweets would) or give each row a token of its own (`unique`: nothing "
        "repeats). "
        f"{_plural(s['rounds'], 'round')}; cells are medians.",
        "",
        report.markdown_table(csv_table(csv_rows)),
        "",
    ]
    target = csv_rows.get(variant_name(TARGET_ROWS, unique=True))
    if target and target["rows_per_s"] is not None:
        met = target["rows_per_s"] >= TARGET_ROWS_PER_S
        lines += [
            f"Target ≥ {TARGET_ROWS_PER_S:,} rows/s end to end for {TARGET_ROWS:,} unique rows on "
            f"{os.cpu_count()} cores: {target['rows_per_s']:,.0f} rows/s, "
            f"**{report.verdict(met)}**. {_ceiling_text(csv_rows)}",
            "",
        ]
    latency = jobs["latency"]
    training = next((r for r in jobs["runs"] if r["kind"] == "training"), None)
    lines += [
        f"Single predictions (`POST /api/predictions/`, wrk `-c{s['clients']}`, each connection "
        f"pausing {s['pause_ms']:g} ms before each request: a paced load, not the most the "
        f"server can take) with no job for {s['duration_s']:g} s, during a {TARGET_ROWS:,}-row "
        "unique CSV job and during a training (`POST /api/models/`), each from the job's upload "
        "to the poll that saw it finished:",
        "",
        report.markdown_table(latency_table(latency)),
        "",
    ]
    if training:
        verdict = (training.get("result") or {}).get("activated")
        lines += [
            f"The training job: {training['status']} in {_f(training['end_to_end_s'])} s end to "
            f"end (job {_f(training['run_s'])} s, under the paced load); activated: "
            f"{_f(verdict) if verdict is not None else '-'}.",
            "",
        ]
    if jobs.get("profile"):
        lines += profile_markdown(jobs["profile"])
    busy = _busy(jobs)
    lines += [
        (
            f"**CPU contention:** other processes took {busy} of the machine during some of "
            "these cases (the table's last column): those are slower than an idle machine gives."
        )
        if busy
        else (
            f"Other processes used less than {100 * report.CONTENTION_WARNING:.0f}% of the "
            "machine during these cases."
        ),
        "",
    ]
    return lines


def cpu_ceiling_rows_per_s(rows: int, worker_cpu_s: float | None, cores: int) -> float | None:
    """The most rows/s a job could reach if its worker had `cores` idle cores to itself: its
    rows over its CPU seconds spread perfectly over them."""
    return rows * cores / worker_cpu_s if worker_cpu_s else None


def _ceiling_text(csv_rows: dict[str, dict]) -> str:
    cores = os.cpu_count() or 1
    parts = []
    for unique in (False, True):
        row = csv_rows.get(variant_name(TARGET_ROWS, unique=unique))
        ceiling = row and cpu_ceiling_rows_per_s(row["rows"], row.get("worker_cpu_s"), cores)
        if ceiling:
            parts.append(
                f"{variant_name(TARGET_ROWS, unique=unique)}: {row['worker_cpu_s']:.1f} CPU s, "
                f"at most {ceiling:,.0f} rows/s"
            )
    if not parts:
        return ""
    return (
        f"What the worker's CPU alone allows on {cores} idle cores (rows x cores / worker CPU s): "
        + "; ".join(parts)
        + "."
    )


def _data_dir_text(copy_of: str | None) -> str:
    if copy_of and copy_of != "None":
        return f"a copy of `{copy_of}`, with its model"
    return "new, with a first model trained by `ensure_model`"


def _worker_text(worker: dict) -> str:
    how = (
        "started by `make serve`"
        if worker["mode"] == "serve"
        else f"`nice -n {WORKER_NICENESS} manage.py db_worker --no-reload --interval "
        f"{WORKER_INTERVAL_S:g}` started by the bench, `make serve` run with RUN_WORKER=0"
    )
    return f"{how}; nice {worker['niceness']}, gunicorn nice {worker['gunicorn_niceness']}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _busy(jobs: dict) -> str | None:
    shares = [r["other_load_pct"] for r in jobs["runs"] if r.get("other_load_pct") is not None]
    shares += [v.get("other_load_pct") or 0 for v in jobs["latency"].values()]
    worst = max(shares, default=0)
    return f"up to {worst:.0f}%" if worst >= 100 * report.CONTENTION_WARNING else None


def csv_table(summary: dict[str, dict]) -> list[list[str]]:
    table = [
        [
            "CSV file",
            "rows",
            "end to end s",
            "rows/s",
            "job s",
            "job rows/s",
            "queued s",
            "upload s",
            "worker CPU s",
            "predictions already stored",
            "other load %",
        ]
    ]
    for name, row in summary.items():
        table.append(
            [
                name + (f" ({row['failed']} FAILED)" if row["failed"] else ""),
                _f(row["rows"], 0),
                _f(row["end_to_end_s"], 2),
                _f(row["rows_per_s"], 0),
                _f(row["run_s"], 2),
                _f(row["job_rows_per_s"], 0),
                _f(row["queued_s"], 2),
                _f(row["request_s"], 2),
                _f(row["worker_cpu_s"], 1),
                _f(row["predictions_before"], 0),
                _f(row["other_load_pct"], 0),
            ]
        )
    return table


LATENCY_CASES = (
    ("none", "no job"),
    ("csv", f"{TARGET_ROWS:,}-row CSV job"),
    ("training", "training job"),
)


def latency_table(latency: dict[str, dict]) -> list[list[str]]:
    table = [["Single predictions", *[label for key, label in LATENCY_CASES if key in latency]]]
    cells = [
        ("p50 (ms)", "p50_ms", 1),
        ("p99 (ms)", "p99_ms", 1),
        ("requests/s", "requests_per_s", 0),
        ("errors", "errors", 0),
        ("seconds", "seconds", 1),
        ("other load %", "other_load_pct", 0),
    ]
    for label, key, digits in cells:
        table.append(
            [label, *[_f(latency[k].get(key), digits) for k, _ in LATENCY_CASES if k in latency]]
        )
    return table


PROFILE_STAGES = (
    ("parse", "parse and check the file (`csv_table_read`)"),
    ("model", "load the active model (once per worker process)"),
    ("score", "score every chunk (forked processes)"),
    ("store", "store the predictions"),
    ("write", "write the answer CSV"),
    ("save_answer", "store the answer file (`JobFile`)"),
)


def profile_markdown(profile: dict) -> list[str]:
    stages = profile["stages"]
    table = [["Stage, run one after another", "wall s", "CPU s (all processes)"]]
    for key, label in PROFILE_STAGES:
        stage = stages.get(key)
        if stage:
            table.append([label, _f(stage["wall_s"], 2), _f(stage["cpu_s"], 2)])
    total = profile["job"]
    table.append(
        ["sum of the stages", _f(profile["stages_wall_s"], 2), _f(profile["stages_cpu_s"], 2)]
    )
    table.append(
        [
            "the whole job in process (`csv_job_score`: scoring overlaps storing)",
            _f(total["wall_s"], 2),
            _f(total["cpu_s"], 2),
        ]
    )
    return [
        f"Where a {profile['rows']:,}-row unique CSV job's time goes (`python -m "
        "bench.jobs_profile`, in one process with the server stopped, on a copy of the bench's "
        f"database holding {profile['predictions_before']:,} predictions; "
        f"{profile['processes']} scoring processes, chunks of {profile['chunk_rows']:,} rows, "
        f"{profile.get('store_rows', profile['chunk_rows']):,} rows per INSERT):",
        "",
        report.markdown_table(table),
        "",
    ]


def section_replace(text: str, heading: str, section: str) -> str:
    """`text` with the section under `heading` (up to the next "## " heading) replaced by
    `section`, or `section` appended when there is none."""
    lines = text.splitlines()
    if heading not in lines:
        return text.rstrip("\n") + "\n\n" + section.rstrip("\n") + "\n"
    start = lines.index(heading)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    new = [*lines[:start], *section.rstrip("\n").splitlines(), *([""] if end < len(lines) else [])]
    return "\n".join(new + lines[end:]) + "\n"


# Alone -------------------------------------------------------------------------------------------


def parse_settings(argv: Sequence[str] | None) -> JobSettings:
    from bench.run import data_path

    parser = argparse.ArgumentParser(prog="python -m bench.jobs", description=__doc__)
    parser.add_argument("--data", type=Path, help="training CSV (default ../shared/data/train.csv)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds of the CSV files")
    parser.add_argument("--duration", type=float, default=10, help="s of load with no job")
    parser.add_argument("--clients", type=int, default=4, help="wrk connections meanwhile")
    parser.add_argument("--pause-ms", type=float, default=20, help="each connection's pause")
    parser.add_argument("--worker", choices=("auto", "serve", "own"), default="auto")
    parser.add_argument("--no-profile", action="store_true", help="skip the in-process profile")
    parser.add_argument(
        "--copy-of", type=Path, help="start from a copy of this DATA_DIR (a stopped server's)"
    )
    args = parser.parse_args(argv)
    return JobSettings(
        data=data_path(args.data),
        rounds=args.rounds,
        duration_s=args.duration,
        clients=args.clients,
        pause_ms=args.pause_ms,
        worker=args.worker,
        profile=not args.no_profile,
        copy_of=args.copy_of,
    )


def main(argv: Sequence[str] | None = None) -> int:
    from bench.run import BenchError, stop_on_sigterm

    stop_on_sigterm()
    try:
        settings = parse_settings(argv)
    except BenchError as error:
        say(f"bench: {error}")
        return 1
    jobs = run_jobs(settings)
    result = json.loads(RESULTS_JSON.read_text()) if RESULTS_JSON.is_file() else {}
    result["jobs"] = jobs
    report.write_text(RESULTS_JSON, json.dumps(result, indent=2) + "\n")
    section = "\n".join(jobs_markdown(jobs))
    existing = RESULTS_MD.read_text() if RESULTS_MD.is_file() else "# Benchmark results\n"
    report.write_text(RESULTS_MD, section_replace(existing, SECTION, section))
    print(section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
