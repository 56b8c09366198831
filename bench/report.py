"""Turn the rounds of a bench run into medians, the comparison table and the target verdicts;
write them as text, Markdown (bench/results.md) and JSON (bench/out/results.json)."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.servers import ROOT

OURS, SEED, OURS_PG = "ours", "seed", "ours_pg"
VARIANT_LABELS = {OURS: "ours (SQLite)", SEED: "seed", OURS_PG: "ours (PostgreSQL)"}
# Another session's load above this share of the machine is called out in the results.
CONTENTION_WARNING = 0.10


@dataclass(frozen=True)
class Row:
    """One line of the table: a metric, how rounds combine, how it prints."""

    key: str
    label: str
    digits: int = 1
    combine: str = "median"  # "median", "sum" (counts) or "all" (checks)
    ratio: bool = True


ROWS = [
    Row("http1_p50_ms", "HTTP, 1 client: p50 latency (ms)", 2),
    Row("http1_p99_ms", "HTTP, 1 client: p99 latency (ms)", 2),
    Row("http32_rps", "HTTP, 32 clients: requests/s", 0),
    Row("http32_p50_ms", "HTTP, 32 clients: p50 latency (ms)", 1),
    Row("http32_p99_ms", "HTTP, 32 clients: p99 latency (ms)", 1),
    Row("http32_cpu_ms", "HTTP, 32 clients: server CPU per request (ms)", 2),
    Row("http_errors", "HTTP: errors, all rounds (non-2xx + socket)", 0, "sum", ratio=False),
    Row("http_stored_ok", "HTTP: rows stored = 2xx answers", combine="all", ratio=False),
    Row("batch_per_s", "Batch endpoint, 1,000 items: predictions/s", 0),
    Row("batch_stored_ok", "Batch endpoint: every item stored, no error", combine="all"),
    Row("inproc_p50_ms", "In-process single prediction p50 (ms)", 3),
    Row("inproc_p99_ms", "In-process single prediction p99 (ms)", 3),
    Row("inproc_batch_per_s", "In-process batch, whole data set: predictions/s", 0),
    Row("train_s", "Retrain on the data, wall time (s)", 1),
    Row("ready_s", "Ready after server process start (s)", 2),
    Row("ready_command_s", "Ready after `make serve` start (s)", 2),
    Row("pss_mb", "Resident memory, PSS of serving processes (MB)", 0),
    Row("processes", "Serving processes (gunicorn master + workers)", 0, ratio=False),
    Row("other_load_pct", "CPU used by other processes meanwhile (% of machine)", 0, ratio=False),
]


def combine(values: Sequence, how: str):
    """Median of the rounds (or sum, or all) ignoring rounds without the value; None if none."""
    present = [v for v in values if v is not None]
    if not present:
        return None
    if how == "sum":
        return sum(present)
    if how == "all":
        return all(present)
    return statistics.median(present)


def summarize(rounds: list[dict]) -> dict[str, dict]:
    """{variant: {metric: combined value}} over rounds of {variant: {metric: value}}."""
    variants = [v for v in (OURS, SEED, OURS_PG) if any(v in r for r in rounds)]
    return {
        variant: {
            row.key: combine([r[variant].get(row.key) for r in rounds if variant in r], row.combine)
            for row in ROWS
        }
        for variant in variants
    }


def format_value(value, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    return f"{value:,.{digits}f}"


def ratio(ours, seed) -> float | None:
    if isinstance(ours, bool) or isinstance(seed, bool) or not ours or not seed:
        return None
    return ours / seed


def comparison_table(summary: dict[str, dict]) -> list[list[str]]:
    """Header and rows: metric, ours, seed, ours/seed[, ours on PostgreSQL]."""
    header = ["Measure", VARIANT_LABELS[OURS], VARIANT_LABELS[SEED], "ours/seed"]
    if OURS_PG in summary:
        header.append(VARIANT_LABELS[OURS_PG])
    table = [header]
    ours, seed = summary.get(OURS, {}), summary.get(SEED, {})
    for row in ROWS:
        r = ratio(ours.get(row.key), seed.get(row.key)) if row.ratio else None
        line = [
            row.label,
            format_value(ours.get(row.key), row.digits),
            format_value(seed.get(row.key), row.digits),
            "-" if r is None else f"{r:.2f}x",
        ]
        if OURS_PG in summary:
            line.append(format_value(summary[OURS_PG].get(row.key), row.digits))
        table.append(line)
    return table


@dataclass(frozen=True)
class Target:
    name: str
    check: Callable[[dict, dict], tuple[str, bool | None]]


def _ms(value) -> str:
    return format_value(value, 2) + " ms"


def _check_throughput(ours: dict, seed: dict) -> tuple[str, bool | None]:
    r = ratio(ours.get("http32_rps"), seed.get("http32_rps"))
    errors, stored = ours.get("http_errors"), ours.get("http_stored_ok")
    if r is None:
        return "not measured", None
    text = f"{r:.2f}x the seed, {errors} errors, all stored: {format_value(stored)}"
    return text, r >= 3 and errors == 0 and bool(stored)


def _check_p50_vs_seed(ours: dict, seed: dict) -> tuple[str, bool | None]:
    a, b = ours.get("http1_p50_ms"), seed.get("http1_p50_ms")
    if a is None or b is None:
        return "not measured", None
    return f"{_ms(a)} vs the seed's {_ms(b)}", a <= b


def _check_p50_vs_inproc(ours: dict, seed: dict) -> tuple[str, bool | None]:
    http, inproc = ours.get("http1_p50_ms"), ours.get("inproc_p50_ms")
    if http is None or inproc is None:
        return "not measured", None
    limit = inproc + 0.7
    return f"{_ms(http)} vs {_ms(inproc)} + 0.7 ms = {_ms(limit)}", http <= limit


def _at_most(key: str, limit: float, unit: str, digits: int = 1) -> Callable:
    def check(ours: dict, seed: dict) -> tuple[str, bool | None]:
        value = ours.get(key)
        if value is None:
            return "not measured", None
        return f"{format_value(value, digits)} {unit}", value <= limit

    return check


def _at_least(key: str, limit: float, unit: str, also: str | None = None) -> Callable:
    def check(ours: dict, seed: dict) -> tuple[str, bool | None]:
        value = ours.get(key)
        if value is None:
            return "not measured", None
        met = value >= limit and (also is None or bool(ours.get(also)))
        extra = f", all stored: {format_value(ours.get(also))}" if also else ""
        return f"{format_value(value, 0)} {unit}{extra}", met

    return check


TARGETS = [
    Target(
        "32 clients: ≥ 3x the seed's requests/s, every prediction stored, 0 errors",
        _check_throughput,
    ),
    Target("1 client: HTTP p50 ≤ the seed's", _check_p50_vs_seed),
    Target("1 client: HTTP p50 ≤ in-process p50 + 0.7 ms", _check_p50_vs_inproc),
    Target("In-process single prediction p50 ≤ 1 ms", _at_most("inproc_p50_ms", 1.0, "ms", 3)),
    Target(
        "In-process batch ≥ 10,000 predictions/s", _at_least("inproc_batch_per_s", 10_000, "/s")
    ),
    Target(
        "Batch endpoint ≥ 10,000 predictions/s, all stored",
        _at_least("batch_per_s", 10_000, "/s", also="batch_stored_ok"),
    ),
    Target("Retrain ≤ 60 s", _at_most("train_s", 60, "s")),
    Target(
        "Ready ≤ 5 s after start, existing model (gunicorn start)", _at_most("ready_s", 5, "s", 2)
    ),
    Target("≤ 500 MB resident (PSS) for the default workers", _at_most("pss_mb", 500, "MB", 0)),
]


# Measured once, with the SQLite column: they are the model's, whatever the database.
MODEL_FIGURES = ("inproc_p50_ms", "inproc_p99_ms", "inproc_batch_per_s")


def _with_model_figures(summary: dict[str, dict], variant: str) -> dict:
    """A variant's figures, with the in-process ones taken from the SQLite column when the
    variant has none of its own (the PostgreSQL column's targets compare against them)."""
    ours = summary.get(OURS, {})
    inherited = {k: ours[k] for k in MODEL_FIGURES if summary[variant].get(k) is None and k in ours}
    return {**summary[variant], **inherited}


def verdict(met: bool | None) -> str:
    return {True: "met", False: "NOT MET", None: "-"}[met]


def targets_table(summary: dict[str, dict]) -> list[list[str]]:
    variants = [v for v in (OURS, OURS_PG) if v in summary]
    header = ["Target"]
    for v in variants:
        header += [VARIANT_LABELS[v], "verdict"]
    table = [header]
    seed = summary.get(SEED, {})
    for target in TARGETS:
        line = [target.name]
        for v in variants:
            text, met = target.check(_with_model_figures(summary, v), seed)
            line += [text, verdict(met)]
        table.append(line)
    return table


def target_verdicts(summary: dict[str, dict]) -> dict[str, dict[str, bool | None]]:
    seed = summary.get(SEED, {})
    return {
        v: {t.name: t.check(_with_model_figures(summary, v), seed)[1] for t in TARGETS}
        for v in (OURS, OURS_PG)
        if v in summary
    }


def plain_table(table: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    lines = []
    for n, row in enumerate(table):
        cells = [row[0].ljust(widths[0])]
        cells += [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(table: list[list[str]]) -> str:
    align = ["---"] + ["--:"] * (len(table[0]) - 1)
    rows = [table[0], align, *table[1:]]
    return "\n".join("| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows)


def machine() -> dict:
    """Cores, CPU model and memory of this machine, and the versions that matter."""
    model = "unknown"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_kib = 0
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    return {
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "cpu_model": model,
        "memory_gb": round(mem_kib / 1024**2, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def git_commit() -> str:
    """Short commit, plus "+uncommitted changes" when the tree differs from it."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    branch = git("rev-parse", "--abbrev-ref", "HEAD")
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return f"{commit} ({branch})" + (" + uncommitted changes" if dirty else "")


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
