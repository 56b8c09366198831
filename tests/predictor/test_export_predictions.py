"""`manage.py export_predictions`: the training CSV format, filters, and clean errors."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from ml.data import read_csv
from predictor.models import Label

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def export(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("export_predictions", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def stored(make_prediction, admin_user):
    now = timezone.now()
    return {
        "old": make_prediction(
            "Old wildfire, still burning", probability=0.9, created=now - timedelta(days=10)
        ),
        "reviewed": make_prediction(
            'Quote "this", comma, and\nnewline',
            probability=0.8,
            keyword="ablaze",
            location="Leeds, UK",
            true_label=Label.NOT_DISASTER,
            reviewed_by=admin_user,
            reviewed_at=now,
        ),
        "open": make_prediction("Lovely sunny day", probability=0.1),
    }


def test_writes_the_training_format_to_stdout(stored):
    out, err = export()
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["id", "keyword", "location", "text", "target"]
    assert rows[1:] == [
        [str(stored["old"].pk), "", "", "Old wildfire, still burning", "1"],
        [
            str(stored["reviewed"].pk),
            "ablaze",
            "Leeds, UK",
            'Quote "this", comma, and\nnewline',
            "0",  # the reviewer's label, not the model's
        ],
        [str(stored["open"].pk), "", "", "Lovely sunny day", "0"],
    ]
    assert "Exported 3 predictions to stdout." in err


def test_the_export_reads_back_as_training_data(stored, tmp_path):
    path = tmp_path / "out.csv"
    out, _ = export("--output", str(path))
    assert f"Exported 3 predictions to {path}." in out
    data = read_csv(path)
    assert len(data) == 3


def test_reviewed_only_and_since(stored, tmp_path):
    out, _ = export("--reviewed-only")
    assert [row[0] for row in csv.reader(io.StringIO(out))][1:] == [str(stored["reviewed"].pk)]
    since = timezone.localdate() - timedelta(days=2)
    out, _ = export("--since", since.isoformat())
    ids = [row[0] for row in csv.reader(io.StringIO(out))][1:]
    assert ids == [str(stored["reviewed"].pk), str(stored["open"].pk)]


def test_with_prediction_adds_columns(stored, tmp_path):
    path = tmp_path / "with.csv"
    export("--with-prediction", "--reviewed-only", "--output", str(path))
    with path.open(encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    assert rows == [
        {
            "id": str(stored["reviewed"].pk),
            "keyword": "ablaze",
            "location": "Leeds, UK",
            "text": 'Quote "this", comma, and\nnewline',
            "target": "0",
            "predicted_target": "1",
            "probability": "0.800000",
            "model_version": "v1",
            "reviewed": "1",
        }
    ]
    assert len(read_csv(path)) == 1


def test_an_empty_database_exports_the_header():
    out, err = export()
    assert out == "id,keyword,location,text,target\n"
    assert "Exported 0 predictions" in err


def test_bad_date_is_a_command_error():
    with pytest.raises(CommandError, match=r"--since: '2024-13-01' is not a date \(YYYY-MM-DD\)"):
        export("--since", "2024-13-01")


def test_unwritable_output_is_a_command_error(stored, tmp_path):
    with pytest.raises(CommandError, match="--output: cannot write"):
        export("--output", str(tmp_path / "missing-dir" / "out.csv"))


def test_exit_code_1_and_one_line_on_bad_input(tmp_path):
    env = {
        **{k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
        "DATA_DIR": str(tmp_path),
        "SECRET_KEY": "x",
        "DJANGO_SETTINGS_MODULE": "disaster_site.settings",
    }
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "migrate", "-v", "0"],
        env=env,
        cwd=ROOT,
        check=True,
        timeout=120,
    )
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "export_predictions", "--since", "yesterday"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "CommandError: --since: 'yesterday' is not a date (YYYY-MM-DD)"
    ]
    assert result.stdout == ""
