"""The production settings, set up in this process on a throwaway data directory: for the
benchmarks that call the service's code or its WSGI application directly (no server)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data" / "train.csv"
SAMPLE_DATA = ROOT / "data" / "sample_tweets.csv"


def default_data() -> Path:
    """TRAIN_DATA, else the shared train.csv beside the repository, else the bundled sample."""
    return Path(
        os.environ.get("TRAIN_DATA") or (SHARED_DATA if SHARED_DATA.is_file() else SAMPLE_DATA)
    )


def django_start(data_dir: Path, *, model_data: Path | None = None, **environ: str) -> None:
    """Set up Django with the production settings on SQLite in `data_dir` (DEBUG off, no .env,
    throttling off, the filesystem model store, metrics in a multiprocess directory in
    `data_dir`, as under gunicorn), migrate it and, given `model_data`, make sure a model
    trained on it is active. `environ`: more settings, as environment variables."""
    metrics_dir = data_dir / "metrics"
    metrics_dir.mkdir(parents=True, exist_ok=True)
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "disaster_site.settings",
            "SECRET_KEY": "bench-only-throwaway-" + "x" * 40,
            "DEBUG": "0",
            "DATA_DIR": str(data_dir),
            "ENV_FILE": "",
            "PREDICTION_THROTTLE_RATE": "none",
            "ALLOWED_HOSTS": "127.0.0.1",
            "MODEL_STORE": "filesystem",
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
            **environ,
        }
    )
    os.environ.pop("DATABASE_URL", None)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    if model_data is not None:
        call_command("ensure_model", "--data", str(model_data), verbosity=0)
