"""Run Python against the production settings with only what an operator sets: nothing
inherited from this shell, the test settings or a .env file."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_production(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`python *args` in the repository with DEBUG off, a fresh SECRET_KEY, DATA_DIR, and `env`."""
    base = {
        "PATH": os.environ.get("PATH", ""),
        "DJANGO_SETTINGS_MODULE": "disaster_site.settings",
        "ENV_FILE": "",
        "DATA_DIR": str(data_dir),
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
    }
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
