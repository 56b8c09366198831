"""The review selectors: the queue's order, progress, figures per version, the export rows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from predictor import selectors
from predictor.models import Label, Prediction

pytestmark = pytest.mark.django_db


def test_next_unreviewed_is_the_most_uncertain_leaving_out_skipped(make_prediction):
    far = make_prediction(probability=0.99)
    close = make_prediction(probability=0.48)
    make_prediction(probability=0.5, true_label=Label.DISASTER)
    assert selectors.prediction_unreviewed_next() == close
    assert selectors.prediction_unreviewed_next(exclude_ids=[close.pk]) == far
    assert selectors.prediction_unreviewed_next(exclude_ids=[close.pk, far.pk]) is None


@pytest.mark.skipif(connection.vendor != "sqlite", reason="reads SQLite's query plan")
def test_the_queue_query_uses_the_partial_index_once_sqlite_has_statistics(make_prediction):
    for n in range(300):
        make_prediction(probability=n / 300, true_label=Label.DISASTER if n % 3 else None)
    # Without statistics SQLite's planner prefers the (true_label, created) index and sorts;
    # ANALYZE (or PRAGMA optimize) lets it see that the partial index answers the queue directly.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    queryset = selectors.prediction_order_by_uncertainty(
        Prediction.objects.filter(true_label__isnull=True)
    )
    plan = queryset[:1].explain()
    assert "prediction_unreviewed_margin" in plan
    assert "TEMP B-TREE" not in plan


def test_progress_counts_today_only(make_prediction, admin_user, django_user_model):
    other = django_user_model.objects.create_user("o")
    now = timezone.now()
    make_prediction(true_label=Label.DISASTER, reviewed_by=admin_user, reviewed_at=now)
    make_prediction(true_label=Label.DISASTER, reviewed_by=other, reviewed_at=now)
    make_prediction(
        true_label=Label.DISASTER, reviewed_by=admin_user, reviewed_at=now - timedelta(days=1)
    )
    make_prediction()
    progress = selectors.prediction_review_progress(reviewer=admin_user)
    assert progress == selectors.ReviewProgress(
        reviewed_today_by_you=1, reviewed_today=2, unreviewed=1
    )


def test_reviewed_since_active(make_version, make_prediction, admin_user):
    assert selectors.prediction_reviewed_since_active_count() == (None, 0)
    version = make_version("v1")
    make_prediction(
        version=version,
        true_label=Label.DISASTER,
        reviewed_by=admin_user,
        reviewed_at=version.created - timedelta(seconds=1),
    )
    make_prediction(
        version=version,
        true_label=Label.DISASTER,
        reviewed_by=admin_user,
        reviewed_at=timezone.now(),
    )
    assert selectors.prediction_reviewed_since_active_count() == (version, 1)


def test_live_agreement_is_one_query(make_version, make_prediction, django_assert_num_queries):
    v1 = make_version("v1", artifact=False)
    make_version("v2", artifact=False)
    make_prediction(probability=0.9, version=v1, true_label=Label.DISASTER)
    make_prediction(probability=0.9, version=v1, true_label=Label.NOT_DISASTER)
    make_prediction(probability=0.9, version=v1, true_label=Label.NOT_DISASTER)
    make_prediction(probability=0.9, version=v1)
    with django_assert_num_queries(1):
        versions = {v.name: v for v in selectors.model_version_list_with_agreement()}
    assert versions["v1"].live_agreement == pytest.approx(1 / 3)
    assert versions["v1"].reviewed_count == 3
    assert versions["v2"].live_agreement is None


def test_review_figures(make_prediction):
    since = timezone.now() - timedelta(days=1)
    for probability, truth in [
        (0.9, Label.DISASTER),  # true positive
        (0.9, Label.DISASTER),  # true positive
        (0.8, Label.NOT_DISASTER),  # false positive
        (0.1, Label.DISASTER),  # false negative
        (0.1, Label.NOT_DISASTER),  # true negative
        (0.7, None),
    ]:
        make_prediction(probability=probability, true_label=truth)
    figures = selectors.prediction_review_figures(since=since)
    assert (figures.predictions, figures.disaster, figures.reviewed, figures.agreed) == (6, 4, 5, 3)
    assert figures.precision == pytest.approx(2 / 3)
    assert figures.recall == pytest.approx(2 / 3)
    assert figures.reviewed_share == pytest.approx(5 / 6)
    empty = selectors.prediction_review_figures(since=timezone.now() + timedelta(days=1))
    assert (empty.precision, empty.agreement, empty.disaster_share) == (None, None, None)


def test_histogram_bins_include_both_ends(make_prediction):
    for probability in (0.0, 0.05, 0.1, 0.5, 0.99, 1.0):
        make_prediction(probability=probability)
    counts = selectors.prediction_probability_histogram(since=timezone.now() - timedelta(days=1))
    assert counts == [2, 1, 0, 0, 0, 1, 0, 0, 0, 2]


def test_daily_counts_fill_the_days_without_predictions(make_prediction):
    now = timezone.now()
    make_prediction(probability=0.9, created=now - timedelta(days=2))
    make_prediction(probability=0.1, created=now, true_label=Label.NOT_DISASTER)
    days = selectors.prediction_daily_counts(since=now - timedelta(days=3))
    assert [d["day"] for d in days] == [
        timezone.localdate(now - timedelta(days=n)) for n in (3, 2, 1, 0)
    ]
    assert [(d["predictions"], d["disaster"], d["reviewed"]) for d in days] == [
        (0, 0, 0),
        (1, 1, 0),
        (0, 0, 0),
        (1, 0, 1),
    ]


def test_export_rows(make_prediction, admin_user):
    old = make_prediction("old", probability=0.9, created=timezone.now() - timedelta(days=5))
    reviewed = make_prediction("new", probability=0.9, true_label=Label.NOT_DISASTER)
    rows = list(selectors.prediction_export_rows(predictions=selectors.prediction_export_list()))
    assert rows == [
        ("id", "keyword", "location", "text", "target"),
        (old.pk, "", "", "old", 1),
        (reviewed.pk, "", "", "new", 0),
    ]
    only_reviewed = selectors.prediction_export_list(reviewed_only=True)
    assert list(only_reviewed) == [reviewed]
    recent = selectors.prediction_export_list(since=timezone.now() - timedelta(days=1))
    assert list(recent) == [reviewed]
    with_prediction = list(
        selectors.prediction_export_rows(predictions=only_reviewed, with_prediction=True)
    )
    assert with_prediction[1] == (reviewed.pk, "", "", "new", 0, 1, "0.900000", "v1", 1)


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Asia/Kolkata"])
@pytest.mark.parametrize("kind", ["year", "month", "day"])
def test_created_periods_match_django_datetimes(make_prediction, settings, zone, kind):
    settings.TIME_ZONE = zone
    start = timezone.now().replace(month=3, day=30, hour=23, minute=30) - timedelta(days=800)
    for offset in (0, 1, 2, 33, 65, 400, 401, 799):
        make_prediction(created=start + timedelta(days=offset, hours=offset % 5))
    with timezone.override(zone):
        predictions = Prediction.objects.all()
        if kind == "day":  # the admin asks for days within one month
            month = timezone.localtime(start)
            predictions = predictions.filter(created__year=month.year, created__month=month.month)
        expected = list(predictions.datetimes("created", kind))
        assert selectors.prediction_created_periods(predictions=predictions, kind=kind) == expected


def test_created_periods_of_nothing(db):
    assert (
        selectors.prediction_created_periods(predictions=Prediction.objects.all(), kind="day") == []
    )
