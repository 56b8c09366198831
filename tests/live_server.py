"""Start the real production configuration (`make serve`: gunicorn, DEBUG off, whitenoise) on a
free loopback port for tests that need a live HTTP server, and talk to it."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DATA = ROOT / "data" / "sample_tweets.csv"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def manage_command(
    env: dict[str, str], *args: str, timeout: float = 300
) -> subprocess.CompletedProcess:
    """`manage.py *args` with .venv's Python in `env`; the caller checks the return code."""
    return subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _is_gunicorn(command_line: str) -> bool:
    """gunicorn itself (`python .../bin/gunicorn ...`), not a process whose arguments name it
    (the supervisor that starts it)."""
    program = [Path(arg).name for arg in command_line.split()[:2]]
    return program[0] == "gunicorn" or (
        program[0].startswith("python") and program[1:] == ["gunicorn"]
    )


@dataclass
class LiveServer:
    """A `make serve` process group on 127.0.0.1:port."""

    port: int
    data_dir: Path
    env: dict[str, str]
    process: subprocess.Popen
    log_path: Path
    started: float = field(default_factory=time.monotonic)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        timeout: float = 30,
    ) -> tuple[int, Any]:
        """One HTTP request; (status, parsed JSON or text)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            payload = json.dumps(body) if body is not None else None
            all_headers = {"Content-Type": "application/json", **(headers or {})}
            connection.request(method, path, body=payload, headers=all_headers)
            response = connection.getresponse()
            raw = response.read()
        finally:
            connection.close()
        if response.getheader("Content-Type", "").startswith("application/json"):
            return response.status, json.loads(raw)
        return response.status, raw.decode("utf-8", "replace")

    def manage(self, *args: str, timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
        """Run a management command against this server's database and data directory (`env`:
        variables to add or change)."""
        return manage_command({**self.env, **env}, *args, timeout=timeout)

    def wait_ready(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log()}")
            try:
                if self.request("GET", "/readyz", timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"server not ready after {timeout}s:\n{self.log()}")

    def gunicorn_pids(self) -> tuple[int, list[int]]:
        """(master pid, worker pids) of this server's gunicorn."""
        out = subprocess.run(
            ["ps", "-o", "pid=,ppid=,args=", "-g", str(self.process.pid)],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        rows = [
            row
            for row in (line.split(None, 2) for line in out.splitlines())
            if _is_gunicorn(row[2])
        ]
        pids = {int(pid) for pid, _, _ in rows}
        master = next(int(pid) for pid, ppid, _ in rows if int(ppid) not in pids)
        return master, [int(pid) for pid, ppid, _ in rows if int(ppid) == master]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def start_server(
    data_dir: Path,
    *,
    port: int | None = None,
    extra_env: dict[str, str] | None = None,
    wait: bool = True,
) -> LiveServer:
    """`make serve` on a free port with its own DATA_DIR, trained on the bundled sample."""
    port = port or free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {
        # Not the outer make's command-line variables either (`make test DATABASE_URL=...`
        # passes them to every sub-make through MAKEFLAGS, where they would override these).
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("PYTEST", "DJANGO_", "MAKE", "MFLAGS"))
        },
        "SECRET_KEY": "live-server-test-key-" + "x" * 40,
        "DEBUG": "0",
        "DATA_DIR": str(data_dir),
        "TRAIN_DATA": str(SAMPLE_DATA),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "PREDICTION_THROTTLE_RATE": "none",
        # The review queue in its plain order (the audit draw is tested on its own).
        "AUDIT_SHARE": "0",
        "DOUBLE_REVIEW_SHARE": "0",
        "ENV_FILE": "",
        # Shared by every live server: `make serve` collects static files only when they change.
        "STATIC_ROOT": str(ROOT / "staticfiles"),
        **(extra_env or {}),
    }
    log_path = data_dir / f"server-{port}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            ["make", "--no-print-directory", "serve", f"PORT={port}"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = LiveServer(port, data_dir, env, process, log_path)
    if wait:
        try:
            server.wait_ready()
        except BaseException:
            server.stop()
            raise
    return server
