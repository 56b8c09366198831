"""The benchmark script runs end to end, and the ml package stays free of Django."""

import subprocess
import sys
from pathlib import Path

from ml import benchmark

REPO = Path(__file__).resolve().parents[2]
SAMPLE_DATA = REPO / "data" / "sample_tweets.csv"


def test_benchmark_prints_every_measurement(capsys):
    assert benchmark.main(["--data", str(SAMPLE_DATA), "--calls", "200", "--n-jobs", "1"]) == 0

    output = capsys.readouterr().out
    for label in ("train seconds", "validation", "predict_one", "p99", "predict_proba"):
        assert label in output


def test_benchmark_reports_bad_data_as_an_error(tmp_path, capsys):
    assert benchmark.main(["--data", str(tmp_path / "missing.csv")]) == 1

    assert "error: no such file" in capsys.readouterr().err


def test_ml_imports_nothing_from_django():
    code = (
        "import sys, ml.benchmark, ml.data, ml.evaluate, ml.persistence, ml.pipeline, ml.train; "
        "assert not [m for m in sys.modules if m.split('.')[0] == 'django'], 'django imported'"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=120)
