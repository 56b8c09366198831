"""`manage.py check --deploy` with the production settings the README documents, in a fresh
process (settings are read once, at import)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.disaster_site.production import run_production


def check_deploy(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    env = {"ALLOWED_HOSTS": "tweets.example.com", **env}
    return run_production(
        tmp_path, "manage.py", "check", "--deploy", "--fail-level", "WARNING", **env
    )


def test_check_deploy_is_clean_behind_the_tls_proxy(tmp_path):
    result = check_deploy(tmp_path, BEHIND_TLS_PROXY="1", NUM_PROXIES="1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_preload_when_asked_for_is_clean_too(tmp_path):
    result = check_deploy(tmp_path, BEHIND_TLS_PROXY="1", SECURE_HSTS_PRELOAD="1")
    assert result.returncode == 0, result.stdout + result.stderr


def test_plain_http_defaults_are_reported(tmp_path):
    # `make serve` on loopback: no TLS, so Django names every HTTPS-only setting left off.
    result = check_deploy(tmp_path)
    assert result.returncode != 0
    for check in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert check in result.stderr + result.stdout


def test_a_short_secret_key_is_reported(tmp_path):
    result = check_deploy(tmp_path, BEHIND_TLS_PROXY="1", SECRET_KEY="short")
    assert result.returncode != 0
    assert "security.W009" in result.stderr + result.stdout
