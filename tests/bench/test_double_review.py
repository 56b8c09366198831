"""The double-review simulation end to end on the bundled sample, in its own process (it sets up
Django on a throwaway database of its own)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_simulation_prints_the_dashboard_figures(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST"))}
    env["TMPDIR"] = str(tmp_path)
    args = ["--data", "data/sample_tweets.csv", "--predictions", "40", "--share", "1"]
    result = subprocess.run(
        [sys.executable, "-m", "bench.double_review", *args, "--seed", "3"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    # Every first review was drawn, so every prediction got a second review.
    reviews = int(re.search(r"([\d,]+) reviews by 4 reviewers", out).group(1))
    doubled = int(re.search(r"double-reviewed: (\d+); pending: 0", out).group(1))
    assert doubled == 40 and reviews == 80
    pairs = re.findall(r"^  (\w+ and \w+)\s+(\d+)\s+([\d.]+%)\s+(-|-?\d\.\d{3})$", out, re.M)
    assert sum(int(n) for _, n, _, _ in pairs) == 40
    assert re.search(r"^  all\s+.*of \d+$", out, re.M)
    assert not list(tmp_path.iterdir())  # the throwaway DATA_DIR is gone
