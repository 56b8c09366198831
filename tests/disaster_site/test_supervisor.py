"""The supervisor (disaster_site/supervisor.py) with real processes: small stand-in programs for
the web server and the worker that write what happens to them to a log file. The real web server
and worker under it: tests/disaster_site/test_serve_worker.py."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from disaster_site.supervisor import ConfigError, parse_args
from tests.live_server import ROOT

# A stand-in: `child.py NAME LOG [--exit STATUS --after SECONDS] [--ignore N]` notes its start
# (pid, niceness, process group, PROMETHEUS_MULTIPROC_DIR) and each stop signal in LOG; exits 0
# on a stop signal (after ignoring the first N, like a worker busy with a job), or with STATUS
# after SECONDS.
CHILD = textwrap.dedent(
    """
    import argparse, os, signal, sys, time
    METRICS = "PROMETHEUS_MULTIPROC_DIR"
    parser = argparse.ArgumentParser()
    parser.add_argument("name"); parser.add_argument("log")
    parser.add_argument("--exit", type=int); parser.add_argument("--after", type=float, default=0)
    parser.add_argument("--ignore", type=int, default=0)
    args = parser.parse_args()
    def note(*words):
        with open(args.log, "a") as log:
            log.write(" ".join([args.name, *map(str, words)]) + "\\n")
    signals = 0
    def on_stop(signum, frame):
        global signals
        signals += 1
        note("signal", signal.Signals(signum).name, signals)
        if signals > args.ignore:
            os._exit(0)  # at once: no interpreter shutdown during which a signal would kill it
    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)
    note("start", os.getpid(), os.nice(0), os.getpgrp(), os.environ.get(METRICS, "-"))
    if args.exit is not None:
        time.sleep(args.after)
        sys.exit(args.exit)
    while True:
        time.sleep(60)
    """
)


@dataclass
class Run:
    """A supervisor started on stand-ins, and the log they write."""

    process: subprocess.Popen
    log: Path

    def events(self, name: str | None = None) -> list[list[str]]:
        lines = self.log.read_text().splitlines() if self.log.exists() else []
        rows = [line.split() for line in lines]
        return [row for row in rows if name is None or row[0] == name]

    def starts(self, name: str) -> list[list[str]]:
        return [row for row in self.events(name) if row[1] == "start"]

    def wait_for(self, what: str, count: int = 1, timeout: float = 10) -> list[list[str]]:
        """Wait until LOG holds `count` lines starting with `what` ("worker start")."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = [row for row in self.events() if " ".join(row).startswith(what)]
            if len(rows) >= count:
                return rows
            time.sleep(0.02)
        raise AssertionError(f"no {count} x {what!r} in {timeout}s: {self.events()}")

    def finish(self, timeout: float = 15) -> tuple[int, str]:
        """Wait for the supervisor's exit; (status, its log)."""
        _, stderr = self.process.communicate(timeout=timeout)
        return self.process.returncode, stderr


@pytest.fixture
def supervise(tmp_path: Path) -> Iterator:
    child = tmp_path / "child.py"
    child.write_text(CHILD)
    runs: list[Run] = []

    def start(
        web: list[str] = (),
        worker: list[str] = (),
        options: list[str] = (),
        env: dict[str, str] | None = None,
    ) -> Run:
        log = tmp_path / f"events-{len(runs)}.log"
        worker_command = shlex.join([sys.executable, str(child), "worker", str(log), *worker])
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "disaster_site.supervisor",
                "--worker-command",
                worker_command,
                *options,
                "--",
                sys.executable,
                str(child),
                "web",
                str(log),
                *web,
            ],
            cwd=ROOT,
            env={**os.environ, "RUN_WORKER": "1", "WORKER_NICE": "10", **(env or {})},
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        run = Run(process, log)
        runs.append(run)
        return run

    yield start
    for run in runs:
        # What a failed test left running: the supervisor's group (it and the web stand-in); the
        # worker stand-in then gets SIGTERM from the kernel (the supervisor's PR_SET_PDEATHSIG).
        if run.process.poll() is None:
            os.killpg(run.process.pid, signal.SIGKILL)
            run.process.communicate()


def test_runs_both_the_worker_at_lower_priority_in_its_own_group(supervise):
    run = supervise(env={"WORKER_NICE": "7"})
    [web] = run.wait_for("web start")
    [worker] = run.wait_for("worker start")
    own_nice = os.nice(0)
    assert int(web[3]) == own_nice
    assert int(worker[3]) == min(own_nice + 7, 19)
    # The web server shares the supervisor's process group; the worker has its own.
    assert int(web[4]) == run.process.pid
    assert int(worker[4]) == int(worker[2])
    run.process.send_signal(signal.SIGTERM)
    status, log = run.finish()
    assert status == 0
    assert "started the worker" in log
    assert "nice +7" in log


def test_sigterm_reaches_each_once_and_the_status_is_the_web_servers(supervise):
    # The worker is busy: it takes its first signal as "finish the job" and goes on.
    run = supervise(worker=["--ignore", "1"], options=["--stop-seconds", "1"])
    run.wait_for("worker start")
    run.wait_for("web start")
    run.process.send_signal(signal.SIGTERM)
    run.wait_for("worker signal SIGTERM 1")
    # Again, as `make` passes on the SIGTERM its process group got: not passed on (a second
    # signal would tell the worker to abandon its job before its time is up).
    run.process.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    assert [row[1:] for row in run.events("worker") if row[1] == "signal"] == [
        ["signal", "SIGTERM", "1"]
    ]
    status, log = run.finish()
    assert status == 0
    assert ["web", "signal", "SIGTERM", "1"] in run.events()
    assert "web" not in {row[0] for row in run.events() if row[1:] == ["signal", "SIGTERM", "2"]}
    assert "received SIGTERM: stopping the web server and the worker" in log
    assert "received SIGTERM again: already stopping" in log


def test_a_busy_worker_is_stopped_at_once_after_the_stop_time(supervise):
    # The worker takes its first SIGTERM as "finish the job" and goes on; the second stops it.
    run = supervise(worker=["--ignore", "1"], options=["--stop-seconds", "0.5"])
    run.wait_for("worker start")
    run.wait_for("web start")
    started = time.monotonic()
    run.process.send_signal(signal.SIGTERM)
    status, log = run.finish()
    assert status == 0
    assert time.monotonic() - started >= 0.5
    assert [row[2:] for row in run.events("worker") if row[1] == "signal"] == [
        ["SIGTERM", "1"],
        ["SIGTERM", "2"],
    ]
    assert "still busy after 0.5 s: stopping it at once" in log


def test_a_worker_that_ignores_every_signal_is_killed(supervise):
    run = supervise(
        worker=["--ignore", "99"], options=["--stop-seconds", "0.3", "--kill-seconds", "0.3"]
    )
    run.wait_for("worker start")
    run.wait_for("web start")
    run.process.send_signal(signal.SIGTERM)
    status, log = run.finish()
    assert status == 0
    assert "the worker (pid" in log
    assert "did not stop: killing it" in log
    assert "was killed by SIGKILL" in log


def test_a_second_ctrl_c_stops_the_worker_at_once(supervise):
    run = supervise(worker=["--ignore", "1"])  # --stop-seconds stays 20
    run.wait_for("worker start")
    run.wait_for("web start")
    started = time.monotonic()
    run.process.send_signal(signal.SIGINT)
    run.wait_for("worker signal SIGTERM 1")
    run.process.send_signal(signal.SIGINT)
    status, log = run.finish()
    assert time.monotonic() - started < 10
    assert status == 0
    assert "received SIGINT again: stopping the worker at once" in log
    # The web server got SIGINT as a terminal would send it.
    assert ["web", "signal", "SIGINT", "1"] in run.events()


def test_a_dead_worker_is_started_again(supervise):
    run = supervise(worker=["--exit", "3", "--after", "0.2"], options=["--backoff", "0.1"])
    rows = run.wait_for("worker start", count=3)
    assert len({row[2] for row in rows}) == 3  # three processes
    run.process.send_signal(signal.SIGTERM)
    status, log = run.finish()
    assert status == 0
    assert "exited with status 3; starting it again in 0.1 s" in log
    assert "starting it again in 0.2 s" in log  # the backoff doubles


def test_too_many_deaths_stop_the_web_server_and_exit_1(supervise):
    run = supervise(
        worker=["--exit", "3"],
        options=["--backoff", "0.05", "--max-deaths", "3", "--death-window", "30"],
    )
    status, log = run.finish()
    assert status == 1
    assert len(run.starts("worker")) == 3
    assert ["web", "signal", "SIGTERM", "1"] in run.events()
    assert "3 deaths within 30 s, giving up: stopping the web server" in log


def test_deaths_outside_the_window_do_not_add_up(supervise):
    # One death every ~0.3 s; with a 0.2 s window no two are counted together.
    run = supervise(
        worker=["--exit", "3", "--after", "0.3"],
        options=["--backoff", "0.01", "--max-deaths", "2", "--death-window", "0.2"],
    )
    run.wait_for("worker start", count=4)
    assert run.process.poll() is None
    run.process.send_signal(signal.SIGTERM)
    assert run.finish()[0] == 0


def test_when_the_web_server_exits_the_worker_is_stopped_and_its_status_kept(supervise):
    run = supervise(web=["--exit", "4", "--after", "0.3"])
    status, log = run.finish()
    assert status == 4
    assert ["worker", "signal", "SIGTERM", "1"] in run.events()
    assert "the web server (pid" in log
    assert "exited with status 4" in log


def test_a_web_server_killed_by_a_signal_gives_128_plus_it(supervise):
    run = supervise()
    [web] = run.wait_for("web start")
    run.wait_for("worker start")
    os.kill(int(web[2]), signal.SIGKILL)
    status, log = run.finish()
    assert status == 128 + signal.SIGKILL
    assert "was killed by SIGKILL" in log


def test_without_the_supervisor_the_worker_is_sent_sigterm(supervise):
    run = supervise()
    run.wait_for("worker start")
    run.wait_for("web start")
    run.process.kill()  # no chance to pass anything on
    run.process.communicate()
    run.wait_for("worker signal SIGTERM")
    run.wait_for("web signal SIGTERM")


def test_run_worker_0_becomes_the_web_server(supervise):
    run = supervise(web=["--exit", "5"], env={"RUN_WORKER": "0"})
    status, log = run.finish()
    assert status == 5
    [web] = run.starts("web")
    assert int(web[2]) == run.process.pid  # exec'd: the same process
    assert run.starts("worker") == []
    assert "RUN_WORKER=0" in log


def test_a_worker_that_cannot_start_counts_as_a_death(supervise, tmp_path):
    run = supervise(
        options=[
            "--worker-command",
            str(tmp_path / "no-such-program"),
            "--backoff",
            "0.05",
            "--max-deaths",
            "2",
        ]
    )
    status, log = run.finish()
    assert status == 1
    assert "cannot start the worker" in log


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"RUN_WORKER": "maybe"}, "RUN_WORKER must be true or false"),
        ({"WORKER_NICE": "high"}, "WORKER_NICE must be a whole number"),
        ({"WORKER_NICE": "20"}, "WORKER_NICE must be from 0 to 19"),
        ({"WORKER_STOP_SECONDS": "-1"}, "WORKER_STOP_SECONDS must be 0 or more"),
    ],
)
def test_bad_settings_are_refused(supervise, env, message):
    run = supervise(env=env)
    status, log = run.finish()
    assert status == 2
    assert message in log
    assert run.events() == []


def test_parse_args_reads_the_environment_and_the_command():
    options = parse_args(
        ["--stop-seconds", "3", "--", "gunicorn", "--config", "g.py"],
        {"RUN_WORKER": "off", "WORKER_NICE": "5", "WORKER_STOP_SECONDS": "9"},
    )
    assert options.web_command == ["gunicorn", "--config", "g.py"]
    assert options.run_worker is False
    assert options.worker_nice == 5
    assert options.stop_seconds == 3  # the option wins over the environment
    assert parse_args(["--", "x"], {"WORKER_STOP_SECONDS": "9"}).stop_seconds == 9
    defaults = parse_args(["--", "x"], {})
    assert defaults.run_worker is True
    assert defaults.worker_nice == 10
    assert defaults.worker_command[1:] == [
        str(ROOT / "manage.py"),
        "db_worker",
        "--no-reload",
        "--interval",
        "0.5",
    ]
    with pytest.raises(ConfigError, match="after `--`"):
        parse_args(["gunicorn"], {})
    with pytest.raises(ConfigError, match="after `--`"):
        parse_args(["--"], {})


def test_the_supervisor_imports_no_django():
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, disaster_site.supervisor; "
            "sys.exit(any(m.split('.')[0] == 'django' for m in sys.modules))",
        ],
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0


def test_both_share_a_fresh_metrics_directory_removed_at_exit(supervise):
    run = supervise(env={"PROMETHEUS_MULTIPROC_DIR": ""})
    [web] = run.wait_for("web start")
    [worker] = run.wait_for("worker start")
    directory = Path(web[5])
    assert directory.is_dir() and worker[5] == web[5]
    assert list(directory.iterdir()) == []
    run.process.send_signal(signal.SIGTERM)
    status, _ = run.finish()
    assert status == 0
    assert not directory.exists()


def test_a_given_metrics_directory_is_emptied_at_start_and_kept(supervise, tmp_path):
    directory = tmp_path / "metrics"
    directory.mkdir()
    (directory / "counter_12345.db").write_bytes(b"an earlier run's counts")
    (directory / "notes.txt").write_text("not ours")
    run = supervise(env={"PROMETHEUS_MULTIPROC_DIR": str(directory)})
    [web] = run.wait_for("web start")
    [worker] = run.wait_for("worker start")
    assert web[5] == worker[5] == str(directory)
    assert sorted(p.name for p in directory.iterdir()) == ["notes.txt"]
    run.process.send_signal(signal.SIGTERM)
    assert run.finish()[0] == 0
    assert directory.is_dir()


def test_a_dead_workers_live_gauges_go_and_its_counters_stay(supervise, tmp_path):
    directory = tmp_path / "metrics"
    run = supervise(env={"PROMETHEUS_MULTIPROC_DIR": str(directory)}, options=["--backoff", "0"])
    [worker] = run.wait_for("worker start")
    pid = int(worker[2])
    # What prometheus_client writes for a process: counters, and gauges of live processes only.
    for name in (f"counter_{pid}.db", f"gauge_livesum_{pid}.db", f"gauge_all_{pid}.db"):
        (directory / name).write_bytes(b"")
    os.kill(pid, signal.SIGKILL)
    run.wait_for("worker start", count=2)
    assert sorted(p.name for p in directory.iterdir()) == [
        f"counter_{pid}.db",
        f"gauge_all_{pid}.db",
    ]
    run.process.send_signal(signal.SIGTERM)
    assert run.finish()[0] == 0


def test_an_unusable_metrics_directory_is_refused(supervise, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    run = supervise(env={"PROMETHEUS_MULTIPROC_DIR": str(blocker / "metrics")})
    status, log = run.finish()
    assert status == 2
    assert "PROMETHEUS_MULTIPROC_DIR" in log and "cannot use it" in log
