"""selectors.prediction_drift and the dashboard's drift panel on a constructed shift: live
traffic that looks like the reference, then tweets of one keyword only, all called disaster and
full of words the model never saw; live accuracy from audit reviews against the evaluation set."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from ml.data import read_csv
from ml.drift import drift_reference
from predictor import selectors, services
from predictor.active_model import active_model
from predictor.models import EvaluationRow, EvaluationSet, Label

pytestmark = pytest.mark.django_db

DASHBOARD = reverse("admin:predictor_prediction_dashboard")
REFERENCE = {"n": 500, "disaster_share": 0.4, "mean_probability": 0.42, "oov_share": None}


@pytest.fixture
def version(make_version, settings):
    """The active version (the sample model), its reference figures those of the sample data."""
    settings.DRIFT_MIN_PREDICTIONS = 20
    active = make_version("v1")
    data = read_csv(settings.SAMPLE_TRAIN_DATA)
    reference = drift_reference(active_model.get().model, data).as_dict()
    active.drift_reference = {**reference, **{k: v for k, v in REFERENCE.items() if v is not None}}
    active.evaluation = {"accuracy": 0.8, "f1": 0.75, "n": 400, "set": "x"}
    active.save()
    return active


def traffic(make_prediction, version, *, disaster: int, not_disaster: int, text=None, **fields):
    """Stored predictions: `disaster` at probability 0.9, `not_disaster` at 0.1 (mean 0.42 and
    share 0.4 for 2 to 3), texts from the sample data unless `text` is given."""
    texts = read_csv_texts()
    for i in range(disaster + not_disaster):
        make_prediction(
            text=text(i) if text else texts[i % len(texts)],
            probability=0.9 if i < disaster else 0.1,
            version=version,
            **fields,
        )


def read_csv_texts() -> list[str]:
    from django.conf import settings

    return list(read_csv(settings.SAMPLE_TRAIN_DATA).text)


def check(report, figure: str, window: str):
    return next(c for c in report.checks if (c.figure, c.window) == (figure, window))


def test_traffic_like_the_reference_warns_of_nothing(version, make_prediction):
    traffic(make_prediction, version, disaster=16, not_disaster=24)
    report = selectors.prediction_drift(version=version)
    assert [w.predictions for w in report.windows] == [40, 40]
    assert report.windows[0].disaster_share == pytest.approx(0.4)
    assert report.windows[0].mean_probability == pytest.approx(0.42)
    assert report.oov_sample == 40
    assert report.warnings == []


def test_tweets_of_one_keyword_move_the_share_and_the_unknown_words_past_their_thresholds(
    version, make_prediction, admin_client, settings
):
    settings.DRIFT_OOV_SAMPLE = 30  # the unknown words of the last 30 predictions
    traffic(make_prediction, version, disaster=16, not_disaster=24, created=days_ago(3))
    # Today: wildfire reports only, all called disaster, naming places the model never saw.
    traffic(
        make_prediction,
        version,
        disaster=30,
        not_disaster=0,
        text=lambda i: f"#wildfire Qorvath{i} Zumbelin{i} Praxtown{i} evacuated",
        keyword="wildfire",
    )
    report = selectors.prediction_drift(version=version)
    day, week = report.windows
    assert (day.predictions, day.disaster_share) == (30, 1.0)
    assert day.mean_probability == pytest.approx(0.9)
    assert week.predictions == 70
    assert week.disaster_share == pytest.approx(46 / 70)
    assert check(report, "disaster_share", "24h").warning
    assert check(report, "mean_probability", "24h").warning
    assert check(report, "disaster_share", "7d").warning  # 0.657 against 0.4: past 0.15
    oov = check(report, "oov_share", "recent")
    assert report.oov_sample == 30
    assert oov.live > oov.reference + 0.10 and oov.warning
    assert not check(report, "live_accuracy", "30d").warning

    page = admin_client.get(DASHBOARD).content.decode()
    assert 'id="drift"' in page
    assert "Called disaster (24h):</strong>" in page
    assert "retrain with their labels" in page
    assert "Words not in the vocabulary:</strong>" in page


def test_a_thin_window_never_warns(version, make_prediction, settings):
    settings.DRIFT_MIN_PREDICTIONS = 100
    traffic(make_prediction, version, disaster=30, not_disaster=0)
    report = selectors.prediction_drift(version=version)
    assert check(report, "disaster_share", "24h").live == 1.0
    assert report.warnings == []


def test_live_accuracy_warns_only_when_its_whole_interval_is_below_the_evaluation_figure(
    version, make_prediction, admin_user
):
    reviewed = {"reviewed_by": admin_user, "reviewed_at": timezone.now(), "is_audit": True}
    # 3 of 5 audit reviews agree: 60%, but the interval (23% to 88%) reaches 75%: no warning.
    for agrees in (True, True, True, False, False):
        truth = Label.DISASTER if agrees else Label.NOT_DISASTER
        make_prediction(probability=0.9, version=version, true_label=truth, **reviewed)
    report = selectors.prediction_drift(version=version)
    live = check(report, "live_accuracy", "30d")
    assert live.live == pytest.approx(0.6) and live.reference == 0.8
    assert not live.warning
    # 60 of 100: the interval (50% to 69%) is below 80% - 5%.
    for i in range(95):
        truth = Label.DISASTER if i < 57 else Label.NOT_DISASTER
        make_prediction(probability=0.9, version=version, true_label=truth, **reviewed)
    live = check(selectors.prediction_drift(version=version), "live_accuracy", "30d")
    assert live.live == pytest.approx(0.6) and live.warning
    assert "review more audit items" in live.advice


def test_without_reference_figures_nothing_warns_and_the_panel_says_so(
    make_version, make_prediction, admin_client
):
    version = make_version("v1")
    traffic(make_prediction, version, disaster=30, not_disaster=0)
    report = selectors.prediction_drift(version=version)
    assert report.reference is None and report.warnings == []
    page = admin_client.get(DASHBOARD).content.decode()
    assert "reference figures unknown" in page


def test_an_older_version_gets_its_reference_from_the_evaluation_set(make_version, settings):
    version = make_version("v1")
    data = read_csv(settings.SAMPLE_TRAIN_DATA)
    record = EvaluationSet.objects.create(
        identifier="e1", base_rows=60, audit_rows=0, training_data="sample"
    )
    EvaluationRow.objects.bulk_create(
        EvaluationRow(evaluation_set=record, text=t, keyword=k, location=loc, target=y)
        for t, k, loc, y in data.rows()[:60]
    )
    reference = services.model_version_drift_reference_ensure(version=version)
    expected = drift_reference(active_model.get().model, data.subset(range(60))).as_dict()
    assert reference == expected
    version.refresh_from_db()
    assert version.drift_reference == expected


def test_no_active_version(db):
    report = selectors.prediction_drift(version=None)
    assert report.checks == [] and report.windows == []


def days_ago(days: int):
    return timezone.now() - timedelta(days=days)
