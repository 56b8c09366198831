"""Run wrk with bench/wrk/predict.lua and turn its output into numbers."""

from __future__ import annotations

import json
import re
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve().parent / "wrk" / "predict.lua"
RESULT_PREFIX = "wrk-result "

_UNITS_US = {"us": 1.0, "ms": 1e3, "s": 1e6, "m": 60e6, "h": 3600e6}


@dataclass(frozen=True)
class WrkResult:
    """One wrk run. Latencies in microseconds; `sent` is None when the Lua hook did not report."""

    duration_s: float
    requests: int
    ok_2xx: int
    non_2xx: int
    socket_errors: int
    p50_us: float
    p99_us: float
    sent: int | None = None

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0

    @property
    def errors(self) -> int:
        """Answers other than 2xx plus connect, read, write and timeout errors."""
        return self.non_2xx + self.socket_errors

    @property
    def in_flight(self) -> int | None:
        """Requests started but not answered when wrk stopped (the server may still store them)."""
        return None if self.sent is None else max(0, self.sent - self.requests)


class WrkError(RuntimeError):
    """wrk failed or printed nothing we can read."""


def parse_wrk_output(text: str) -> WrkResult:
    """Read the JSON line of predict.lua's done() hook; without it, wrk's own summary."""
    for line in text.splitlines():
        if line.startswith(RESULT_PREFIX):
            return _from_hook(json.loads(line[len(RESULT_PREFIX) :]))
    return _from_summary(text)


def _from_hook(data: dict) -> WrkResult:
    errors = data["errors"]
    return WrkResult(
        duration_s=data["duration_us"] / 1e6,
        requests=data["requests"],
        ok_2xx=data["ok_2xx"],
        non_2xx=data["other_status"],
        # errors.status counts answers >= 400, already in other_status.
        socket_errors=errors["connect"] + errors["read"] + errors["write"] + errors["timeout"],
        p50_us=float(data["latency_us"]["p50"]),
        p99_us=float(data["latency_us"]["p99"]),
        sent=data["sent"],
    )


def _from_summary(text: str) -> WrkResult:
    """wrk's plain summary, run with --latency (wrk counts 3xx as success here)."""
    done = re.search(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h),", text, re.MULTILINE)
    if done is None:
        raise WrkError(f"no wrk summary in the output:\n{text[-2000:]}")
    requests = int(done.group(1))
    percentiles = {
        int(m.group(1)): _microseconds(m.group(2), m.group(3))
        for m in re.finditer(r"^\s*(50|99)%\s+([\d.]+)(us|ms|s|m|h)\s*$", text, re.MULTILINE)
    }
    if set(percentiles) != {50, 99}:
        raise WrkError("wrk ran without --latency: no 50% and 99% lines")
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    socket = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text
    )
    n_non_2xx = int(non_2xx.group(1)) if non_2xx else 0
    return WrkResult(
        duration_s=_microseconds(done.group(2), done.group(3)) / 1e6,
        requests=requests,
        ok_2xx=requests - n_non_2xx,
        non_2xx=n_non_2xx,
        socket_errors=sum(int(n) for n in socket.groups()) if socket else 0,
        p50_us=percentiles[50],
        p99_us=percentiles[99],
    )


def _microseconds(value: str, unit: str) -> float:
    return float(value) * _UNITS_US[unit]


def wrk_command(
    url: str,
    *,
    bodies: Path,
    content_type: str,
    connections: int,
    duration_s: float,
    threads: int | None = None,
    timeout_s: float = 10,
    pause_ms: float = 0,
) -> list[str]:
    """wrk POSTing the bodies to url with predict.lua; each connection waits pause_ms before
    each request when it is above 0."""
    threads = threads or min(connections, 2)
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration_s:g}s",
        f"--timeout={timeout_s:g}s",
        "--latency",
        "-s",
        str(SCRIPT),
        url,
        "--",
        str(bodies),
        content_type,
    ]
    return [*command, f"{pause_ms:g}"] if pause_ms > 0 else command


def run_wrk(url: str, *, duration_s: float, **options: Any) -> tuple[WrkResult, str]:
    """POST the bodies to url for duration_s (the other options: `wrk_command`'s); the result
    and wrk's full output."""
    command = wrk_command(url, duration_s=duration_s, **options)
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=duration_s + 60, check=False
    )
    return _finished(command, done.returncode, done.stdout + done.stderr)


def _finished(command: list[str], returncode: int, output: str) -> tuple[WrkResult, str]:
    if returncode != 0:
        raise WrkError(f"{' '.join(command)} exited with {returncode}:\n{output[-2000:]}")
    return parse_wrk_output(output), output


class WrkUntilStopped:
    """wrk running in the background until `stop()`: wrk ends a run early on SIGINT and still
    reports it (its summary and predict.lua's done() hook), so the load covers exactly the time
    between start and stop."""

    def __init__(self, command: list[str]) -> None:
        self.command = command
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )

    def stop(self) -> tuple[WrkResult, str]:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            output, _ = self.process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            output, _ = self.process.communicate()
        return _finished(self.command, self.process.returncode, output)


def wrk_version() -> str:
    done = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    return (done.stdout + done.stderr).splitlines()[0].split(" Copyright")[0].strip()
