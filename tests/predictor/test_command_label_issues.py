"""`manage.py label_issues`: the summary, --json, --export's file, and readable errors (exit 1)."""

from __future__ import annotations

import csv
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from predictor.models import Label, LabelSuspicion
from tests.predictor.test_commands import manage
from tests.predictor.test_services_label_issues import write_base

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("label_issues", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.fixture
def base_csv(tmp_path):
    path = tmp_path / "base.csv"
    return path, write_base(path)


@pytest.fixture
def reviewed(make_prediction, admin_user):
    return make_prediction(
        "Earthquake collapsed buildings, many killed",
        true_label=Label.NOT_DISASTER,
        reviewed_by=admin_user,
    )


def test_prints_what_it_checked_the_most_suspicious_and_a_summary(base_csv, reviewed):
    path, lines = base_csv

    output = run("--data", str(path), "--folds", "3")

    first, *rest = output.strip().splitlines()
    assert first.startswith(
        f"{len(lines) + 1:,} labels checked ({len(lines):,} base rows of base.csv, 1 reviews) "
        "with 3 folds in "
    )
    flagged = LabelSuspicion.objects.filter(flagged=True)
    base_flagged = flagged.filter(prediction__isnull=True).count()
    assert rest[-1] == (
        f"Labels that look wrong: {base_flagged:,} base rows, "
        f"{flagged.filter(prediction__isnull=False).count()} reviews."
    )
    top = flagged.order_by("-suspicion", "id")[:5]
    assert len(rest) == 1 + len(top)
    for line, row in zip(rest, top, strict=False):
        assert line.strip().startswith(f"{row.suspicion:.3f}")


def test_json_prints_the_report(base_csv, reviewed):
    path, lines = base_csv

    report = json.loads(run("--data", str(path), "--folds", "3", "--json").splitlines()[-1])

    assert report["rows"] == len(lines) + 1
    assert (report["base_rows"], report["reviewed_rows"], report["folds"]) == (len(lines), 1, 3)
    assert report["data_file"] == "base.csv" and len(report["thresholds"]) == 2
    assert (
        report["flagged_base"]
        == LabelSuspicion.objects.filter(prediction__isnull=True, flagged=True).count()
    )


def test_export_writes_the_flagged_base_rows_with_their_lines(base_csv, reviewed, tmp_path):
    path, lines = base_csv
    target = tmp_path / "suspicious.csv"

    output = run("--data", str(path), "--folds", "3", "--export", str(target))

    with target.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == [
        "line",
        "id",
        "keyword",
        "location",
        "text",
        "label",
        "out_of_fold_probability",
        "suspicion",
    ]
    flagged = LabelSuspicion.objects.filter(prediction__isnull=True, flagged=True)
    assert len(rows) == flagged.count() > 0
    assert f"{len(rows):,} flagged base rows written to {target}" in output
    suspicions = [float(row["suspicion"]) for row in rows]
    assert suspicions == sorted(suspicions, reverse=True)
    physical = path.read_text(encoding="utf-8").split("\n")
    for row in rows:
        assert int(row["line"]) == lines[row["id"]]
        assert physical[int(row["line"]) - 1].startswith(f"{row['id']},")
        stored = flagged.get(base_line=int(row["line"]))
        assert (row["text"], int(row["label"])) == (stored.text, stored.target)
        assert float(row["suspicion"]) == round(stored.suspicion, 6)
        assert float(row["out_of_fold_probability"]) == round(stored.probability, 6)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--folds", "1"], "--folds must be at least 2, got 1"),
        (["--data", "/no/such/file.csv"], "no such file: /no/such/file.csv"),
        (["--export", "/no/such/dir/out.csv"], "no such directory /no/such/dir"),
    ],
)
def test_bad_input_is_a_command_error_and_stores_nothing(args, message, base_csv):
    with pytest.raises(CommandError, match=message):
        run("--data", str(base_csv[0]), *args)

    assert not LabelSuspicion.objects.exists()


def test_a_bad_file_exits_1_with_one_readable_line(tmp_path):
    env = {"DATA_DIR": str(tmp_path), "SECRET_KEY": "x", "DJANGO_SETTINGS_MODULE": "tests.settings"}
    bad = tmp_path / "bad.csv"
    bad.write_text("id,text\n1,hello\n", encoding="utf-8")

    result = manage("label_issues", "--data", str(bad), env=env)

    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"CommandError: {bad} is missing column(s): keyword, location, target"
    ]
