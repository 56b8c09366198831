"""The production settings the README documents: how values are read from the environment, and
`manage.py check --deploy`, each in a fresh process (settings are read once, at import)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.disaster_site.production import run_production

PRINT_WHOLE_NUMBERS = (
    "from disaster_site import settings as s; "
    "print(s.REST_FRAMEWORK['NUM_PROXIES'], s.AXES_FAILURE_LIMIT, s.SECURE_HSTS_SECONDS)"
)


def test_whole_numbers_are_read_and_empty_means_the_default(tmp_path):
    result = run_production(
        tmp_path, "-c", PRINT_WHOLE_NUMBERS, NUM_PROXIES="2", LOGIN_FAILURE_LIMIT=" 7 "
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["2", "7", "0"]

    result = run_production(
        tmp_path, "-c", PRINT_WHOLE_NUMBERS, NUM_PROXIES="", SECURE_HSTS_SECONDS=""
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0", "5", "0"]


@pytest.mark.parametrize(
    ("name", "value"),
    [("NUM_PROXIES", "one"), ("LOGIN_FAILURE_LIMIT", "2.5"), ("SECURE_HSTS_SECONDS", "1e3")],
)
def test_a_bad_whole_number_names_the_variable_and_the_value(tmp_path, name, value):
    result = run_production(tmp_path, "-c", "import disaster_site.settings", **{name: value})
    assert result.returncode != 0
    assert (
        f"django.core.exceptions.ImproperlyConfigured: {name} must be a whole number, not "
        f"{value!r}" in result.stderr
    )


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


@pytest.mark.parametrize(("value", "read"), [("0", "0.0"), ("0.25", "0.25"), ("1", "1.0")])
def test_the_double_review_share_is_read(tmp_path, value, read):
    code = "from disaster_site import settings as s; print(s.DOUBLE_REVIEW_SHARE)"
    result = run_production(tmp_path, "-c", code, DOUBLE_REVIEW_SHARE=value)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [read]


@pytest.mark.parametrize("value", ["-0.1", "1.5"])
def test_a_double_review_share_outside_0_to_1_is_refused(tmp_path, value):
    result = run_production(
        tmp_path, "-c", "import disaster_site.settings", DOUBLE_REVIEW_SHARE=value
    )
    assert result.returncode != 0
    assert f"DOUBLE_REVIEW_SHARE must be a share between 0 and 1, not {float(value)}" in (
        result.stderr
    )
