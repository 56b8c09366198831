"""Gunicorn settings: the one production configuration, used by the container and `make serve`."""

import gc
import os

# All interfaces inside the container (Caddy reaches it over the Docker network; the port is not
# published on the host). `make serve` sets BIND=127.0.0.1:PORT.
bind = os.environ.get("BIND") or f"0.0.0.0:{os.environ.get('PORT', '8000')}"

# Two processes (one per core) with 4 threads each, measured with `make bench-workers` (32 clients,
# SQLite, bench/results-workers.md). With the hot path (predictor/api/fast.py) on board, on
# 2026-11-30: gthread:2:4 426 req/s and p99 164 ms, gthread:2:8 375 and 205 ms, gthread:3:4
# 438 and 248 ms (one more process, +20 MB), sync:2 367, sync:3 434: within this machine's
# noise (±15%) apart from the p99, where fewer threads queue less behind the GIL. gthread stays:
# its threads keep client connections alive, and a slow client or a long request (a 1,000-item
# batch, a CSV export) holds one thread, not a whole worker, so /readyz still answers beside it.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
threads = int(os.environ.get("GUNICORN_THREADS", "4"))

# Load Django, the views with scikit-learn and XGBoost, and the active model once, in the master
# (see when_ready); the workers fork with all of it and share those pages copy-on-write, and
# answer their first request at once. Measured in the container (sum of PSS,
# docs/performance.md): clearly less memory this way than without preload_app, or with
# preload_app alone (then each worker imports the views and the ML stack itself).
preload_app = True

timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
# On SIGTERM (docker stop) workers finish the requests in hand for up to this long; keep it
# below the stop timeout (`docker run --stop-timeout 30` in deploy/).
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "25"))

# The heartbeat file in memory, not on the container's overlay filesystem (where fchmod can stall),
# as gunicorn's docs advise.
_SHM = "/dev/shm"  # noqa: S108 (a heartbeat file, not data)
worker_tmp_dir = _SHM if os.path.isdir(_SHM) else None
# No runtime control socket: it would be one more writable path in $HOME, shared by every
# `make serve` of the same user.
control_socket_disable = True

accesslog = "-"
# gunicorn's lines, without building every header and environ entry for each (~80 µs a request
# here: disaster_site/access_log.py).
logger_class = "disaster_site.access_log.AccessLogger"
errorlog = "-"
# The default format, plus the client address the proxy saw (X-Forwarded-For) and the duration.
access_log_format = (
    '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" '
    'xff="%({x-forwarded-for}i)s" %(M)sms'
)
loglevel = os.environ.get("LOG_LEVEL", "info").lower()


def when_ready(server):
    """Before the workers fork: import the URLconf and load the active model in the master."""
    if not server.cfg.preload_app:
        return
    from django.db import DatabaseError, connections
    from django.urls import get_resolver

    from predictor.active_model import active_model
    from predictor.errors import ModelUnavailable

    get_resolver().url_patterns  # noqa: B018 (imports every view, and with them the ML stack)
    try:
        server.log.info("Preloaded model %s", active_model.get().version.name)
    except (ModelUnavailable, DatabaseError) as exc:
        server.log.warning("No model preloaded (each worker loads it when it can): %s", exc)
    finally:
        # A database connection must never be shared by forked processes.
        connections.close_all()
    # Everything loaded so far lives as long as the process: move it out of the collector's
    # reach, so that the workers' garbage collections neither walk it nor write to its pages
    # (each write would copy a page the workers share with the master).
    gc.collect()
    gc.freeze()


def post_worker_init(worker):
    """In each worker, once Django is loaded: SQLite's WAL checkpoints in a background thread,
    off the requests (predictor/sqlite_checkpoint.py)."""
    from django.conf import settings

    from predictor.sqlite_checkpoint import checkpointer_start

    checkpointer_start(interval=settings.SQLITE_CHECKPOINT_SECONDS)


def child_exit(server, worker):
    """A worker has exited (or was killed): remove its live gauges from the metrics directory.
    Its counters' files stay and are still added up, so a replaced worker's counts are kept."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
