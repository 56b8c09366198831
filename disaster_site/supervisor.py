"""Run the web server and the background job worker side by side, as one unit: `make serve`,
`make run` and the container start the web server through this.

    python -m disaster_site.supervisor [options] -- WEB COMMAND...

The worker (`manage.py db_worker`) runs at a lower CPU priority (WORKER_NICE, default +10) than
the web server, so a training or a CSV file never slows the answers to single predictions much.
SIGTERM and SIGINT are passed on to both; the worker finishes the job in hand, or after
WORKER_STOP_SECONDS (default 20) is told to stop at once (the job is then recorded as failed),
and is killed a few seconds later. A worker that dies is started again after a short backoff;
after too many deaths in a short time the supervisor stops the web server and exits 1, so that
whatever runs it (a container's restart policy) starts everything afresh. When the web server
exits, the worker is stopped and the supervisor exits with the web server's status.

With RUN_WORKER=0 there is nothing to supervise: the supervisor becomes the web server (exec).

Metrics: both children get the same PROMETHEUS_MULTIPROC_DIR, where prometheus_client keeps each
process's counts (predictor/metrics.py). When it is not set, the supervisor makes a fresh
directory and removes it at exit; when it is set (a fixed path, e.g. on a tmpfs), the
supervisor empties it at start and leaves it at exit. Either way no count of an earlier run is
added to this one's, and a pid of the earlier run reused now cannot continue its file. A dead
worker's live gauges are removed (`mark_process_dead`), as gunicorn.conf.py does for its workers.

Plain Python, no Django: it imports and configures nothing of the site.
"""

from __future__ import annotations

import argparse
import ctypes
import logging
import os
import select
import shlex
import shutil
import signal
import subprocess  # starting the commands it is given is its job  # nosec B404
import sys
import tempfile
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger("disaster_site.supervisor")

MANAGE_PY = Path(__file__).resolve().parents[1] / "manage.py"
# Half a second between the worker's looks at an empty queue: a job starts at most that long
# after it is queued (the progress page shows it running at once); each look is one indexed
# query, so an idle worker costs next to nothing.
WORKER_COMMAND = [sys.executable, str(MANAGE_PY), "db_worker", "--no-reload", "--interval", "0.5"]
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


class ConfigError(Exception):
    """An environment variable or option the supervisor cannot use."""


def env_flag(name: str, default: bool, environ: Mapping[str, str] = os.environ) -> bool:
    """A true/false environment variable, spelled as the settings spell them (1/0, true/false,
    yes/no, on/off)."""
    value = environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be true or false (1 or 0), not {value!r}")


def env_nice(name: str, default: int, environ: Mapping[str, str] = os.environ) -> int:
    """How much lower the worker's priority is than the supervisor's: 0 to 19, as `nice -n`."""
    value = environ.get(name, "").strip()
    try:
        nice = int(value) if value else default
    except ValueError:
        raise ConfigError(f"{name} must be a whole number from 0 to 19, not {value!r}") from None
    if not 0 <= nice <= 19:
        raise ConfigError(f"{name} must be from 0 to 19, not {nice}")
    return nice


def env_seconds(name: str, default: float, environ: Mapping[str, str] = os.environ) -> float:
    value = environ.get(name, "").strip()
    try:
        seconds = float(value) if value else default
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, not {value!r}") from None
    if not 0 <= seconds < float("inf"):
        raise ConfigError(f"{name} must be 0 or more seconds, not {value!r}")
    return seconds


def describe_status(returncode: int) -> str:
    """`exited with status 3` or `was killed by SIGKILL`."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"was killed by {name}"
    return f"exited with status {returncode}"


def exit_status(returncode: int) -> int:
    """A child's return code as a shell would pass it on: 128 + N for a child killed by signal N."""
    return 128 - returncode if returncode < 0 else returncode


def _child_setup(nice: int) -> None:
    """In the child, before exec: lower its priority, and have the kernel send it SIGTERM if the
    supervisor dies without stopping it (SIGKILL), so no orphan keeps running."""
    if nice:
        os.nice(nice)
    if _LIBC is not None:
        _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _load_libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


# Loaded before any fork: the child only calls it.
_LIBC = _load_libc()


METRICS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


def metrics_dir_prepare(environ: dict[str, str]) -> tuple[Path, bool]:
    """The metrics directory for this run, empty, exported in `environ`; (directory, whether the
    supervisor made it and so removes it at exit)."""
    given = environ.get(METRICS_DIR_VARIABLE, "").strip()
    if not given:
        directory = Path(tempfile.mkdtemp(prefix="disaster-metrics-"))
        environ[METRICS_DIR_VARIABLE] = str(directory)
        return directory, True
    directory = Path(given)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):
            stale.unlink()
    except OSError as exc:
        raise ConfigError(f"{METRICS_DIR_VARIABLE}={given}: cannot use it ({exc})") from None
    return directory, False


def metrics_process_dead(pid: int) -> None:
    """Remove a dead process's live gauges from the metrics directory; its counters stay
    counted."""
    if os.environ.get(METRICS_DIR_VARIABLE):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


@dataclass
class Options:
    """What to run and how; parse_args fills it from the command line and the environment."""

    web_command: list[str]
    worker_command: list[str] = field(default_factory=lambda: list(WORKER_COMMAND))
    run_worker: bool = True
    worker_nice: int = 10
    stop_seconds: float = 20.0
    kill_seconds: float = 5.0
    max_deaths: int = 5
    death_window: float = 60.0
    backoff: float = 1.0
    max_backoff: float = 10.0


class Supervisor:
    """The web server and the worker, and what to do when either exits or a signal arrives."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.web: subprocess.Popen | None = None
        self.worker: subprocess.Popen | None = None
        self.web_status: int | None = None
        self.deaths: deque[float] = deque()
        self.restart_at: float | None = None
        # Once stopping: when the worker is told to stop at once, and when it is killed. The web
        # server is never killed here: gunicorn has its own graceful timeout, and the container
        # runtime's stop timeout is the last word.
        self.stopping = False
        self.force_at: float | None = None
        self.kill_at: float | None = None
        self.crashed = False
        self._wakeup_read, self._wakeup_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    # --- the loop ---------------------------------------------------------------------------

    def run(self) -> int:
        """Start both, supervise until both have exited; the exit status."""
        self._install_signal_handlers()
        try:
            self.web = self._spawn(self.options.web_command, nice=0, own_group=False)
        except OSError as exc:
            logger.error(
                "cannot start the web server %s: %s", self._show(self.options.web_command), exc
            )
            return 127
        logger.info(
            "started the web server (pid %s): %s",
            self.web.pid,
            self._show(self.options.web_command),
        )
        self._start_worker()
        while self.web is not None or self.worker is not None or self.restart_at is not None:
            signals = self._wait(self._next_deadline())
            for signum in signals:
                self._on_signal(signum)
            self._reap()
            self._on_deadlines()
        if self.crashed:
            return 1
        return exit_status(self.web_status if self.web_status is not None else 0)

    def _next_deadline(self) -> float | None:
        deadlines = [t for t in (self.restart_at, self.force_at, self.kill_at) if t is not None]
        if not deadlines:
            return None
        return max(0.0, min(deadlines) - time.monotonic())

    def _wait(self, timeout: float | None) -> list[int]:
        """Sleep until a signal arrives (SIGCHLD included) or `timeout` passes; the signals."""
        ready, _, _ = select.select([self._wakeup_read], [], [], timeout)
        if not ready:
            return []
        try:
            data = os.read(self._wakeup_read, 512)
        except BlockingIOError:
            return []
        return list(data)

    def _install_signal_handlers(self) -> None:
        # The C-level handler writes each signal's number to the pipe the loop selects on; the
        # Python-level handler has nothing left to do.
        signal.set_wakeup_fd(self._wakeup_write, warn_on_full_buffer=False)
        for signum in (*STOP_SIGNALS, signal.SIGCHLD):
            signal.signal(signum, lambda signum, frame: None)

    # --- events -----------------------------------------------------------------------------

    def _on_signal(self, signum: int) -> None:
        if signum not in STOP_SIGNALS:
            return
        name = signal.Signals(signum).name
        if self.stopping and signum == signal.SIGINT:
            # A second Ctrl-C: stop now, as the worker itself does on a second signal.
            logger.warning("received %s again: stopping the worker at once", name)
            self._signal(self.web, signum)
            self._force_worker()
            return
        if self.stopping:
            # A SIGTERM often comes twice (`make` passes on the one its process group got): the
            # worker keeps its time to finish the job in hand.
            logger.info("received %s again: already stopping", name)
            return
        logger.info("received %s: stopping the web server and the worker", name)
        self._stop(web_signal=signum)

    def _reap(self) -> None:
        if self.web is not None and (code := self.web.poll()) is not None:
            self.web_status = code
            logger.info("the web server (pid %s) %s", self.web.pid, describe_status(code))
            self.web = None
            if not self.stopping:
                self._stop(web_signal=None)
        if self.worker is not None and (code := self.worker.poll()) is not None:
            pid = self.worker.pid
            self.worker = None
            metrics_process_dead(pid)
            if self.stopping:
                logger.info("the worker (pid %s) %s", pid, describe_status(code))
            else:
                self._on_worker_death(f"the worker (pid {pid}) {describe_status(code)}")

    def _on_worker_death(self, what: str) -> None:
        now = time.monotonic()
        self.deaths.append(now)
        while self.deaths and self.deaths[0] < now - self.options.death_window:
            self.deaths.popleft()
        deaths = len(self.deaths)
        if deaths >= self.options.max_deaths:
            logger.error(
                "%s: %d deaths within %g s, giving up: stopping the web server",
                what,
                deaths,
                self.options.death_window,
            )
            self.crashed = True
            self._stop(web_signal=signal.SIGTERM)
            return
        delay = min(self.options.backoff * 2 ** (deaths - 1), self.options.max_backoff)
        logger.warning(
            "%s; starting it again in %g s (death %d within %g s; death %d stops everything)",
            what,
            delay,
            deaths,
            self.options.death_window,
            self.options.max_deaths,
        )
        self.restart_at = now + delay

    def _on_deadlines(self) -> None:
        now = time.monotonic()
        if self.restart_at is not None and now >= self.restart_at:
            self.restart_at = None
            if not self.stopping:
                self._start_worker()
        if self.force_at is not None and now >= self.force_at:
            self.force_at = None
            if self.worker is not None:
                logger.warning(
                    "the worker is still busy after %g s: stopping it at once (a job in hand is "
                    "recorded as failed)",
                    self.options.stop_seconds,
                )
                self._force_worker()
        if self.kill_at is not None and now >= self.kill_at:
            self.kill_at = None
            if self.worker is not None:
                logger.error("the worker (pid %s) did not stop: killing it", self.worker.pid)
                self._signal(self.worker, signal.SIGKILL)

    # --- actions ----------------------------------------------------------------------------

    def _start_worker(self) -> None:
        if not self.options.run_worker:
            return
        command = self.options.worker_command
        try:
            self.worker = self._spawn(command, nice=self.options.worker_nice, own_group=True)
        except OSError as exc:
            self._on_worker_death(f"cannot start the worker {self._show(command)}: {exc}")
            return
        logger.info(
            "started the worker (pid %s, nice +%d): %s",
            self.worker.pid,
            self.options.worker_nice,
            self._show(command),
        )

    def _stop(self, *, web_signal: int | None) -> None:
        """Ask both to stop (the web server with `web_signal`, the worker with SIGTERM: it finishes
        its job), and set the times to insist."""
        self.stopping = True
        self.restart_at = None
        if web_signal is not None:
            self._signal(self.web, web_signal)
        self._signal(self.worker, signal.SIGTERM)
        now = time.monotonic()
        self.force_at = now + self.options.stop_seconds
        self.kill_at = now + self.options.stop_seconds + self.options.kill_seconds

    def _force_worker(self) -> None:
        # db_worker takes a second signal as "stop now": the job in hand raises SystemExit,
        # which the job runner records as a failure before the worker exits.
        self._signal(self.worker, signal.SIGTERM)
        self.kill_at = min(
            self.kill_at or float("inf"), time.monotonic() + self.options.kill_seconds
        )

    @staticmethod
    def _signal(process: subprocess.Popen | None, signum: int) -> None:
        # An exited child stays a zombie until poll() reaps it: its pid cannot be reused here.
        if process is not None:
            process.send_signal(signum)

    def _spawn(self, command: Sequence[str], *, nice: int, own_group: bool) -> subprocess.Popen:
        # The worker gets a process group of its own: a Ctrl-C in a terminal (or a signal to the
        # whole group) reaches it only through the supervisor, exactly once, and its first signal
        # means "finish the job in hand". The web server stays in the supervisor's group, so
        # gunicorn gets a terminal's or a process group's signals directly, as it would alone.
        return subprocess.Popen(  # noqa: S603  # nosec B603
            list(command),
            stdin=subprocess.DEVNULL,
            # No threads in this process: preexec_fn is safe here.
            preexec_fn=lambda: _child_setup(nice),
            process_group=0 if own_group else None,
        )

    @staticmethod
    def _show(command: Sequence[str]) -> str:
        return shlex.join(command)


def parse_args(argv: Sequence[str], environ: Mapping[str, str] = os.environ) -> Options:
    """Options from the command line (before `--`), the web command after it, and the
    environment (RUN_WORKER, WORKER_NICE)."""
    argv = list(argv)
    if "--" not in argv:
        raise ConfigError("give the web server's command after `--`")
    split = argv.index("--")
    own, web_command = argv[:split], argv[split + 1 :]
    if not web_command:
        raise ConfigError("give the web server's command after `--`")
    parser = argparse.ArgumentParser(
        prog="python -m disaster_site.supervisor",
        description="Run the web server and the job worker together.",
    )
    parser.add_argument(
        "--worker-command",
        type=shlex.split,
        default=list(WORKER_COMMAND),
        help="the worker's command, one shell-quoted string (default: %(default)s)",
    )
    parser.add_argument(
        "--stop-seconds",
        type=float,
        help="on stopping, how long the worker may finish its job before it is stopped at once "
        "(default: WORKER_STOP_SECONDS, or 20; keep it below the container's stop timeout)",
    )
    parser.add_argument(
        "--kill-seconds",
        type=float,
        default=5.0,
        help="then how long before the worker is killed (default %(default)s)",
    )
    parser.add_argument(
        "--max-deaths",
        type=int,
        default=5,
        help="worker deaths within --death-window that stop everything (default %(default)s)",
    )
    parser.add_argument(
        "--death-window", type=float, default=60.0, help="seconds (default %(default)s)"
    )
    parser.add_argument(
        "--backoff",
        type=float,
        default=1.0,
        help="seconds before restarting a dead worker, doubled for each recent death "
        "(default %(default)s, at most --max-backoff)",
    )
    parser.add_argument("--max-backoff", type=float, default=10.0, help="(default %(default)s)")
    args = parser.parse_args(own)
    stop_seconds = env_seconds("WORKER_STOP_SECONDS", 20.0, environ)
    if args.max_deaths < 1:
        raise ConfigError("--max-deaths must be at least 1")
    return Options(
        web_command=web_command,
        worker_command=args.worker_command,
        run_worker=env_flag("RUN_WORKER", True, environ),
        worker_nice=env_nice("WORKER_NICE", 10, environ),
        stop_seconds=args.stop_seconds if args.stop_seconds is not None else stop_seconds,
        kill_seconds=args.kill_seconds,
        max_deaths=args.max_deaths,
        death_window=args.death_window,
        backoff=args.backoff,
        max_backoff=args.max_backoff,
    )


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(
        # gunicorn's own format, so the container's log reads as one.
        format="[%(asctime)s] [%(process)d] [%(levelname)s] supervisor: %(message)s",
        datefmt="%Y-%m-%d %H:%M:%S %z",
        level=logging.INFO,
        stream=sys.stderr,
    )
    try:
        options = parse_args(sys.argv[1:] if argv is None else argv)
    except ConfigError as exc:
        logger.error("%s", exc)
        return 2
    try:
        metrics_dir, made_here = metrics_dir_prepare(os.environ)
    except ConfigError as exc:
        logger.error("%s", exc)
        return 2
    if not options.run_worker:
        logger.info("RUN_WORKER=0: no job worker here; running the web server alone")
        if made_here:
            # Nothing is left to remove it at exit: a few kilobytes in the temporary directory
            # (set PROMETHEUS_MULTIPROC_DIR to a fixed path to have it reused instead).
            logger.info("metrics directory %s is left behind at exit", metrics_dir)
        try:
            os.execvp(options.web_command[0], options.web_command)  # noqa: S606  # nosec B606
        except OSError as exc:
            logger.error("cannot start the web server %s: %s", shlex.join(options.web_command), exc)
            return 127
    try:
        return Supervisor(options).run()
    finally:
        if made_here:
            shutil.rmtree(metrics_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
