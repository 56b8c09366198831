"""prediction_review: the one relabel-and-record path of the admin and the review queue."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType

from predictor import services
from predictor.models import Label, Prediction

pytestmark = pytest.mark.django_db


def test_relabels_each_and_writes_one_history_entry_each(make_prediction, admin_user):
    predictions = [make_prediction(f"post {n}") for n in range(3)]
    changed = services.prediction_review(
        predictions=Prediction.objects.all(),
        true_label=Label.NOT_DISASTER,
        reviewer=admin_user,
        via="a test",
    )
    assert changed == 3
    for prediction in predictions:
        prediction.refresh_from_db()
        assert prediction.true_label == Label.NOT_DISASTER
        assert prediction.reviewed_by == admin_user
        entry = LogEntry.objects.get(object_id=str(prediction.pk))
        assert entry.content_type == ContentType.objects.get_for_model(Prediction)
        assert entry.action_flag == CHANGE
        assert entry.object_repr == str(prediction)
        assert entry.change_message == "True label: not reviewed → Not a disaster (a test)."
        assert entry.get_admin_url().endswith(f"/predictor/prediction/{prediction.pk}/change/")


def test_works_in_chunks(make_prediction, admin_user, monkeypatch):
    monkeypatch.setattr(services, "RELABEL_CHUNK", 2)
    for n in range(5):
        make_prediction(f"post {n}")
    changed = services.prediction_review(
        predictions=Prediction.objects.all(),
        true_label=Label.DISASTER,
        reviewer=admin_user,
        via="chunks",
    )
    assert changed == 5
    assert Prediction.objects.filter(true_label=Label.DISASTER).count() == 5
    assert LogEntry.objects.count() == 5


def test_only_changes_are_recorded(make_prediction, admin_user):
    make_prediction(true_label=Label.DISASTER, reviewed_by=admin_user)
    unreviewed = make_prediction()
    changed = services.prediction_review(
        predictions=Prediction.objects.all(),
        true_label=Label.DISASTER,
        reviewer=admin_user,
        via="x",
    )
    assert changed == 1
    assert LogEntry.objects.get().object_id == str(unreviewed.pk)


def test_clearing(make_prediction, admin_user):
    labelled = make_prediction(true_label=Label.DISASTER, reviewed_by=admin_user)
    make_prediction()
    changed = services.prediction_review(
        predictions=Prediction.objects.all(), true_label=None, reviewer=admin_user, via="x"
    )
    assert changed == 1
    labelled.refresh_from_db()
    assert (labelled.true_label, labelled.reviewed_by, labelled.reviewed_at) == (None, None, None)
    assert LogEntry.objects.get().change_message == "True label: Disaster → not reviewed (x)."


def test_an_unknown_label_changes_nothing(make_prediction, admin_user):
    make_prediction()
    with pytest.raises(ValueError, match="true_label must be one of"):
        services.prediction_review(
            predictions=Prediction.objects.all(), true_label="maybe", reviewer=admin_user, via="x"
        )
    assert not Prediction.objects.filter(true_label__isnull=False).exists()
    assert not LogEntry.objects.exists()


@pytest.mark.django_db
def test_statistics_refresh_lets_sqlite_read_the_queue_through_its_own_index(make_version):
    from django.db import connection

    from predictor.prediction_store import predictions_insert
    from predictor.selectors import prediction_order_by_uncertainty
    from predictor.tweets import Tweet

    if connection.vendor != "sqlite":
        assert services.database_statistics_refresh() is False
        return
    version = make_version("v1", artifact=False)
    for chunk in range(20):
        predictions_insert(
            [Tweet(f"t{chunk}-{i}") for i in range(1000)],
            [(i % 97) / 97 for i in range(1000)],
            version=version,
            source="api",
        )
    Prediction.objects.filter(pk__lte=12_000).update(true_label=Label.DISASTER)
    queue = prediction_order_by_uncertainty(Prediction.objects.filter(true_label__isnull=True))
    sql, params = queue[:1].query.sql_with_params()

    def plan() -> str:
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
            return " ".join(row[-1] for row in cursor.fetchall())

    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS sqlite_stat1")  # as before any ANALYZE
    assert services.database_statistics_refresh() is True
    assert "USING INDEX prediction_unreviewed_margin" in plan()
    assert "TEMP B-TREE" not in plan()
