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
