"""services.label_issues_compute: every base row and review checked and stored, replaced on each
check, base rows found by their line in the CSV; and the selectors that read the check."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from django.conf import settings

from ml.data import DatasetError, read_csv
from predictor import selectors, services
from predictor.models import Label, LabelSuspicion

pytestmark = pytest.mark.django_db

MULTI_LINE = (
    "Flood warning:\nriver over its banks\nleave now",
    "Quiet night\r\nat home",
)


def write_base(path: Path, *, rows: int | None = None) -> dict[str, int]:
    """The bundled sample as a CSV with ids and two quoted multi-line texts; the line each id's
    record starts on (header: line 1)."""
    sample = read_csv(settings.SAMPLE_TRAIN_DATA).rows()[:rows]
    records = [(f"s{i}", *row) for i, row in enumerate(sample)]
    records.insert(5, ("m1", MULTI_LINE[0], "flood", "", 1))
    records.insert(40, ("m2", MULTI_LINE[1], "", "Leeds", 0))
    lines, line = {}, 2
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["id", "keyword", "location", "text", "target"])
        for base_id, text, keyword, location, target in records:
            writer.writerow([base_id, keyword, location, text, target])
            lines[base_id] = line
            # A \r\n inside a field ends one physical line, as a lone \n does.
            line += 1 + text.replace("\r\n", "\n").count("\n")
    return lines


@pytest.fixture
def base_csv(tmp_path) -> tuple[Path, dict[str, int]]:
    path = tmp_path / "base.csv"
    return path, write_base(path)


@pytest.fixture
def reviews(make_prediction, admin_user):
    """Clear disasters and clear non-events, one of each labelled the wrong way round."""

    def review(text: str, label: str):
        return make_prediction(text, true_label=label, reviewed_by=admin_user)

    return {
        "right": review("Forest fire near the town, evacuation ordered", Label.DISASTER),
        "wrong": review(
            "Earthquake collapsed buildings, many killed and injured", Label.NOT_DISASTER
        ),
        "calm": review("I love my new shoes so much", Label.NOT_DISASTER),
    }


def test_every_base_row_and_review_is_stored_with_its_origin(base_csv, reviews, make_prediction):
    path, lines = base_csv
    unreviewed = make_prediction("Not reviewed: not checked")

    report = services.label_issues_compute(data_path=path, folds=3)

    assert report.base_rows == len(lines) and report.reviewed_rows == 3
    assert report.rows == LabelSuspicion.objects.count() == len(lines) + 3
    assert report.data_file == "base.csv" and report.folds == 3
    stored_reviews = LabelSuspicion.objects.filter(prediction__isnull=False)
    assert {row.prediction_id for row in stored_reviews} == {p.pk for p in reviews.values()}
    assert all(row.base_line is None and row.text == "" for row in stored_reviews)
    assert not LabelSuspicion.objects.filter(prediction=unreviewed).exists()
    assert (
        report.flagged_base
        == LabelSuspicion.objects.filter(prediction__isnull=True, flagged=True).count()
    )
    assert report.flagged_reviewed == stored_reviews.filter(flagged=True).count()
    t_not, t_disaster = report.thresholds
    for row in LabelSuspicion.objects.all():
        assert 0 <= row.probability <= 1
        # Each class's probability over its threshold, renormalised: the other class's share.
        disaster, not_disaster = row.probability / t_disaster, (1 - row.probability) / t_not
        other = not_disaster if row.target else disaster
        assert row.suspicion == pytest.approx(other / (disaster + not_disaster))


def test_base_rows_carry_the_line_their_record_starts_on(base_csv, reviews):
    path, lines = base_csv

    services.label_issues_compute(data_path=path, folds=3)

    base = LabelSuspicion.objects.filter(prediction__isnull=True)
    assert {row.base_id: row.base_line for row in base} == lines
    physical = path.read_text(encoding="utf-8").split("\n")
    for row in base:
        assert physical[row.base_line - 1].startswith(f"{row.base_id},")
    multi = base.get(base_id="m1")
    assert (multi.text, multi.keyword, multi.target) == (MULTI_LINE[0], "flood", 1)
    # The records after a multi-line one start further down than their row number says.
    assert lines["s40"] > 40 + 2


def test_a_review_labelled_the_wrong_way_round_is_the_most_suspicious_review(base_csv, reviews):
    path, _ = base_csv

    services.label_issues_compute(data_path=path, folds=3)

    checked = {
        name: LabelSuspicion.objects.get(prediction=prediction)
        for name, prediction in reviews.items()
    }
    assert checked["wrong"].suspicion > 0.5
    assert checked["wrong"].suspicion > max(checked["right"].suspicion, checked["calm"].suspicion)
    # (Flagging needs P(disaster) above the class threshold: the small sample's model is too
    # unsure for that here; tests/ml/test_label_issues.py checks the rule.)
    top = selectors.label_suspicion_most_suspicious(limit=100)
    assert all(row.flagged for row in top)
    assert [row.suspicion for row in top] == sorted((row.suspicion for row in top), reverse=True)


def test_a_new_check_replaces_the_last_one(base_csv, reviews, tmp_path, admin_user):
    path, _ = base_csv
    services.label_issues_compute(data_path=path, folds=3)
    first_ids = set(LabelSuspicion.objects.values_list("pk", flat=True))
    smaller = tmp_path / "smaller.csv"
    lines = write_base(smaller, rows=120)
    services.prediction_relabel(prediction=reviews["calm"], true_label=None, reviewer=admin_user)

    report = services.label_issues_compute(data_path=smaller, folds=3)

    assert report.rows == LabelSuspicion.objects.count() == len(lines) + 2
    assert not first_ids & set(LabelSuspicion.objects.values_list("pk", flat=True))
    assert set(LabelSuspicion.objects.values_list("data_file", flat=True)) == {"smaller.csv"}
    assert not LabelSuspicion.objects.filter(prediction=reviews["calm"]).exists()


def test_progress_is_reported_in_order(base_csv, reviews):
    path, _ = base_csv
    heard: list[tuple[str, int]] = []

    services.label_issues_compute(
        data_path=path, folds=3, progress=lambda stage, percent: heard.append((stage, percent))
    )

    percents = [percent for _, percent in heard]
    assert percents == sorted(percents) and percents[-1] < 100
    assert heard[0][0] == "reading the data" and heard[-1][0] == "storing the results"
    assert sum(stage == "checking the labels" for stage, _ in heard) == 1 + 3


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ("id,text\n1,hello\n", "missing column(s): keyword, location, target"),
        # With the three reviews: both classes, but too little text to fit on.
        ("keyword,location,text,target\n,,Fire,1\n,,Cake,0\n", "cannot train on these 5 rows"),
    ],
)
def test_unusable_data_raises_and_keeps_the_last_check(
    base_csv, reviews, tmp_path, content, message
):
    path, _ = base_csv
    services.label_issues_compute(data_path=path, folds=3)
    before = LabelSuspicion.objects.count()
    bad = tmp_path / "bad.csv"
    if content is not None:
        bad.write_text(content, encoding="utf-8")

    with pytest.raises(DatasetError, match=re.escape(message)):
        services.label_issues_compute(data_path=bad, folds=3)

    assert LabelSuspicion.objects.count() == before


def test_fewer_than_two_folds_are_refused(base_csv):
    with pytest.raises(ValueError, match="folds must be at least 2"):
        services.label_issues_compute(data_path=base_csv[0], folds=1)


def test_the_export_rows_are_the_flagged_base_rows_most_suspicious_first(base_csv, reviews):
    path, lines = base_csv
    services.label_issues_compute(data_path=path, folds=3)

    header, *rows = list(selectors.label_suspicion_base_export_rows())

    assert header == selectors.LABEL_EXPORT_COLUMNS
    flagged = LabelSuspicion.objects.filter(prediction__isnull=True, flagged=True)
    assert len(rows) == flagged.count() > 0
    assert [row[7] for row in rows] == sorted((row[7] for row in rows), reverse=True)
    for line, base_id, _keyword, _location, text, label, probability, suspicion in rows:
        assert lines[base_id] == line
        stored = flagged.get(base_line=line)
        assert (stored.text, stored.target) == (text, label)
        # Rounded to 6 places in the file.
        assert suspicion == round(stored.suspicion, 6)
        assert probability == round(stored.probability, 6)
