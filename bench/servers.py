"""Start, probe, measure and stop the servers under test, each in its own process group.

Ours is `make serve` (gunicorn with gunicorn.conf.py, DEBUG off); the seed is its Flask app.
Memory is PSS from /proc/<pid>/smaps_rollup, so pages shared copy-on-write by gunicorn's
workers are counted once in the sum.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = ROOT / ".venv" / "bin" / "python"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

# Inherited settings that would change what is measured; the bench sets its own.
_STRIPPED_ENV = (
    "DATABASE_URL",
    "MODEL_STORE",
    "WEB_CONCURRENCY",
    "GUNICORN_CMD_ARGS",
    "GUNICORN_WORKER_CLASS",
    "GUNICORN_THREADS",
    "PORT",
    "BIND",
)


@dataclass(frozen=True)
class GunicornConfig:
    """Worker settings for our server; None keeps gunicorn.conf.py's value."""

    workers: int | None = None
    worker_class: str | None = None
    threads: int | None = None

    @classmethod
    def parse(cls, spec: str) -> GunicornConfig:
        """ "default", "sync:4" (class:workers) or "gthread:2:8" (class:workers:threads)."""
        if spec == "default":
            return cls()
        parts = spec.split(":")
        if not 2 <= len(parts) <= 3 or not all(p.isdigit() for p in parts[1:]):
            raise ValueError(f"worker config {spec!r}: use default, CLASS:WORKERS or gthread:W:T")
        threads = int(parts[2]) if len(parts) == 3 else None
        return cls(workers=int(parts[1]), worker_class=parts[0], threads=threads)

    @classmethod
    def from_env(cls, env: dict[str, str]) -> GunicornConfig:
        """WEB_CONCURRENCY, GUNICORN_WORKER_CLASS and GUNICORN_THREADS, when set."""
        workers, threads = env.get("WEB_CONCURRENCY"), env.get("GUNICORN_THREADS")
        return cls(
            workers=int(workers) if workers else None,
            worker_class=env.get("GUNICORN_WORKER_CLASS") or None,
            threads=int(threads) if threads else None,
        )

    def label(self) -> str:
        if self == GunicornConfig():
            return "default"
        parts = [self.worker_class or "conf", str(self.workers or "conf")]
        return ":".join([*parts, str(self.threads)] if self.threads else parts)

    def environ(self) -> dict[str, str]:
        """The variables gunicorn.conf.py reads, plus the same as GUNICORN_CMD_ARGS, which
        gunicorn ranks above the config file, so they apply whether or not the file reads them."""
        env, args = {}, []
        if self.workers:
            env["WEB_CONCURRENCY"] = str(self.workers)
            args.append(f"--workers={self.workers}")
        if self.worker_class:
            env["GUNICORN_WORKER_CLASS"] = self.worker_class
            args.append(f"--worker-class={self.worker_class}")
        if self.threads:
            env["GUNICORN_THREADS"] = str(self.threads)
            args.append(f"--threads={self.threads}")
        if args:
            env["GUNICORN_CMD_ARGS"] = " ".join(args)
        return env


def ours_environ(
    data_dir: Path,
    data: Path,
    *,
    database_url: str | None = None,
    gunicorn: GunicornConfig | None = None,
) -> dict[str, str]:
    """The environment of our server and its management commands for one bench DATA_DIR."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in _STRIPPED_ENV and not k.startswith(("DJANGO_", "PYTEST"))
    }
    env.update(
        SECRET_KEY="bench-secret-key-" + "x" * 40,
        DEBUG="0",
        DATA_DIR=str(data_dir),
        STATIC_ROOT=str(data_dir / "static"),
        TRAIN_DATA=str(data),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        PREDICTION_THROTTLE_RATE="none",
        ENV_FILE="",
        DJANGO_SETTINGS_MODULE="disaster_site.settings",
    )
    if database_url:
        env["DATABASE_URL"] = database_url
    env.update((gunicorn or GunicornConfig()).environ())
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_get_status(port: int, path: str, timeout: float = 1.0) -> int | None:
    """Status of GET path on 127.0.0.1:port, None when nothing answers."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status
    except OSError:
        return None
    finally:
        connection.close()


@dataclass
class Server:
    """A server process group on 127.0.0.1:port."""

    name: str
    port: int
    process: subprocess.Popen
    log_path: Path
    ready_path: str
    started: float = field(default_factory=time.monotonic)
    ready_after_s: float | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout_s: float = 180) -> float:
        """Poll ready_path every 50 ms until it answers 200; seconds since the process started."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.log_tail()}")
            if http_get_status(self.port, self.ready_path) == 200:
                self.ready_after_s = time.monotonic() - self.started
                return self.ready_after_s
            time.sleep(0.05)
        raise TimeoutError(f"{self.name} not ready after {timeout_s}s:\n{self.log_tail()}")

    def pids(self) -> list[int]:
        """Every live process of the group (make, shells, gunicorn master and workers...)."""
        return [pid for pid, stat in _proc_stats() if stat.pgrp == self.process.pid]

    def serving_pids(self) -> list[int]:
        """The processes that serve: gunicorn's master and workers, or the seed's Python."""
        return [pid for pid in self.pids() if _is_server(pid)]

    def server_process_age_s(self) -> float | None:
        """Seconds since the oldest serving process (gunicorn's master) started."""
        starts = [_start_boottime_s(pid) for pid in self.serving_pids()]
        starts = [s for s in starts if s is not None]
        if not starts:
            return None
        return time.clock_gettime(time.CLOCK_BOOTTIME) - min(starts)

    def pss_bytes(self) -> int:
        return sum(pss_bytes(pid) for pid in self.serving_pids())

    def cpu_seconds(self) -> float:
        """CPU time of the whole group so far, including its children that already exited."""
        return sum(stat.cpu_seconds for pid, stat in _proc_stats() if stat.pgrp == self.process.pid)

    def log_head(self, chars: int = 20_000) -> str:
        with open(self.log_path, errors="replace") as log:
            return log.read(chars)

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def stop(self) -> None:
        """SIGTERM the group, SIGKILL it after 30 s."""
        if self.process.poll() is None:
            _signal_group(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                _signal_group(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        # Workers may outlive the make process that led the group.
        deadline = time.monotonic() + 30
        while self.pids() and time.monotonic() < deadline:
            time.sleep(0.1)
        if self.pids():
            _signal_group(self.process.pid, signal.SIGKILL)


def start_ours(env: dict[str, str], log_path: Path, *, port: int | None = None) -> Server:
    """`make serve` (migrate, ensure_model, collectstatic, gunicorn) on a free port.

    `.venv/.installed` is not remade: `make bench` has just run setup.
    """
    port = port or free_port()
    command = ["make", "--no-print-directory", "-o", ".venv/.installed", "serve", f"PORT={port}"]
    return _start("ours", command, env, log_path, port, "/readyz")


def start_seed(models_dir: Path, log_path: Path, *, port: int | None = None) -> Server:
    """The seed's Flask app (its built-in threaded server); ready when GET / answers 200."""
    port = port or free_port()
    command = [
        str(PYTHON),
        str(ROOT / "bench" / "seed_app" / "app.py"),
        "--models",
        str(models_dir),
        "--port",
        str(port),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST"))}
    return _start("seed", command, env, log_path, port, "/")


def start_job_worker(
    env: dict[str, str], log_path: Path, *, niceness: int = 10, interval_s: float = 0.5
) -> Server:
    """The job worker as production runs it beside gunicorn: `manage.py db_worker --no-reload`
    at a lower CPU priority, in its own process group (a Server without a port)."""
    command = [
        "nice",
        "-n",
        str(niceness),
        *python_command("manage.py", "db_worker", "--no-reload", "--interval", f"{interval_s:g}"),
    ]
    return _start("worker", command, env, log_path, 0, "")


def job_worker_pids(root_pid: int) -> list[int]:
    """The `db_worker` processes among root_pid's descendants (a worker `make serve` started),
    not the scoring processes a running job forks."""
    stats = dict(_proc_stats())
    children: dict[int, list[int]] = {}
    for pid, stat in stats.items():
        children.setdefault(stat.ppid, []).append(pid)
    found, todo = [], [root_pid]
    while todo:
        pid = todo.pop()
        if pid != root_pid and _is_job_worker(pid):
            found.append(pid)
            continue
        todo += children.get(pid, [])
    return sorted(found)


def niceness(pid: int) -> int | None:
    """A process's nice value (None if it is gone)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(raw[raw.rindex(")") + 2 :].split()[16])


def process_cpu_seconds(pid: int) -> float:
    """CPU time of one process and of the children it has waited for (0 if it is gone)."""
    stat = _proc_stat(pid)
    return 0.0 if stat is None else stat.cpu_seconds


def _is_job_worker(pid: int) -> bool:
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"db_worker" in args and not any(a == b"nice" for a in args[:1])


def _start(
    name: str, command: list[str], env: dict[str, str], log_path: Path, port: int, ready: str
) -> Server:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        started = time.monotonic()
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Server(name, port, process, log_path, ready, started=started)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


@dataclass(frozen=True)
class _Stat:
    ppid: int
    pgrp: int
    cpu_seconds: float
    start_ticks: int


def _proc_stats() -> list[tuple[int, _Stat]]:
    stats = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            stat = _proc_stat(int(entry.name))
            if stat is not None:
                stats.append((int(entry.name), stat))
    return stats


def _proc_stat(pid: int) -> _Stat | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces; the fields after its ")" are fixed.
    fields = raw[raw.rindex(")") + 2 :].split()
    utime, stime, cutime, cstime = (int(v) for v in fields[11:15])
    return _Stat(
        ppid=int(fields[1]),
        pgrp=int(fields[2]),
        cpu_seconds=(utime + stime + cutime + cstime) / CLOCK_TICKS,
        start_ticks=int(fields[19]),
    )


def _start_boottime_s(pid: int) -> float | None:
    stat = _proc_stat(pid)
    return None if stat is None else stat.start_ticks / CLOCK_TICKS


def _is_server(pid: int) -> bool:
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    # The program (or the script Python runs), not any argument: the supervisor that starts
    # gunicorn names it among its own arguments.
    return any(a.endswith((b"gunicorn", b"seed_app/app.py")) for a in args[:2])


def pss_bytes(pid: int) -> int:
    """Proportional set size of one process (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def machine_busy_seconds() -> float:
    """CPU seconds all CPUs spent busy since boot (the `cpu` line of /proc/stat, less idle)."""
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = values
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


def own_cpu_seconds() -> float:
    """CPU of this process and of the children it has waited for."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def python_command(*args: str) -> list[str]:
    return [str(PYTHON) if PYTHON.exists() else sys.executable, *args]


class LoadMeter:
    """How much CPU other processes (not this bench, its children or the server) used."""

    def __init__(self) -> None:
        self.wall = time.monotonic()
        self.busy = machine_busy_seconds()
        self.own = own_cpu_seconds()

    def other_share(self, server_cpu_s: float) -> float:
        wall = time.monotonic() - self.wall
        busy = machine_busy_seconds() - self.busy
        own = own_cpu_seconds() - self.own
        return max(0.0, busy - own - server_cpu_s) / (wall * (os.cpu_count() or 1))
