"""Schemathesis against the OpenAPI schema of `make serve`: every operation, every check (no
server error; status codes, content types, headers and bodies as documented; valid input
accepted, invalid input refused; authentication honoured), with a staff token, bounded by
SCHEMATHESIS_EXAMPLES per operation (50; 25 in CI)."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from tests.live_server import ROOT
from tests.reliability.conftest import report

pytestmark = pytest.mark.reliability

EXAMPLES = os.environ.get("SCHEMATHESIS_EXAMPLES", "50")


def test_the_live_api_keeps_to_its_schema(api_server, tmp_path):
    server, token = api_server
    result = subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "schemathesis"),
            "run",
            f"http://127.0.0.1:{server.port}/api/schema/",
            "--checks",
            "all",
            "--max-examples",
            EXAMPLES,
            "--header",
            f"Authorization: Token {token}",
            "--request-timeout",
            "30",
            "--generation-database",
            "none",
            "--no-color",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    summary = re.search(r"(\d+) generated, (.*)", result.stdout)
    seed = re.search(r"Seed: (\d+)", result.stdout)
    report(
        "schemathesis",
        {
            "examples_per_operation": int(EXAMPLES),
            "summary": summary.group(0) if summary else None,
            "seed": seed.group(1) if seed else None,
        },
    )
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-2000:]
    assert "14 selected / 14 total" in result.stdout  # every operation
    assert summary and summary.group(2).startswith(f"{summary.group(1)} passed")
