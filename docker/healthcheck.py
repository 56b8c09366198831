"""The image's HEALTHCHECK: exit 0 when this container's server answers /healthz with 200 and,
unless RUN_WORKER=0, a job worker (`manage.py db_worker`) is alive.

    python /app/docker/healthcheck.py                the web server and its worker
    python /app/docker/healthcheck.py --worker-only  a worker-only container (deploy/compose.yaml)
"""

import os
import sys
import urllib.request
from pathlib import Path

URL = f"http://127.0.0.1:{os.environ.get('PORT', '8000')}/healthz"


def web_ok() -> bool:
    try:
        with urllib.request.urlopen(URL, timeout=4) as response:
            if response.status == 200:
                return True
            print(f"healthcheck: {URL}: status {response.status}", file=sys.stderr)
    except OSError as exc:
        print(f"healthcheck: {URL}: {exc}", file=sys.stderr)
    return False


def worker_alive() -> bool:
    """A live `manage.py db_worker` process of this user, found in /proc (the slim image has no
    ps). The user's own: where there is no process namespace (a chroot), /proc shows others'."""
    uid = os.getuid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            status = (entry / "status").read_text()
        except OSError:  # it exited meanwhile, or it is not ours to read
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        running = not fields.get("State", "").strip().startswith(("Z", "X"))
        mine = fields.get("Uid", "").split()[:1] == [str(uid)]
        named = any(arg.endswith(b"manage.py") for arg in argv) and b"db_worker" in argv
        if running and mine and named:
            return True
    print("healthcheck: no job worker (manage.py db_worker) is running", file=sys.stderr)
    return False


def worker_expected() -> bool:
    return os.environ.get("RUN_WORKER", "1").strip().lower() not in {"0", "false", "no", "off"}


if __name__ == "__main__":
    if sys.argv[1:] == ["--worker-only"]:
        sys.exit(0 if worker_alive() else 1)
    ok = web_ok()
    if worker_expected():
        ok = worker_alive() and ok
    sys.exit(0 if ok else 1)
