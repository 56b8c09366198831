"""The write services: predictions, relabels, training and activation."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model

from ml.data import DatasetError
from ml.persistence import ArtifactError
from predictor import services
from predictor.errors import ModelUnavailable
from predictor.models import EvaluationSet, Label, ModelVersion, Prediction, Source
from predictor.tweets import tweet_clean

pytestmark = pytest.mark.django_db


def write_csv(path: Path, rows: list[tuple[str, str, str, int]]) -> Path:
    lines = ["id,keyword,location,text,target"]
    lines += [f'{i},{k},{loc},"{t}",{y}' for i, (k, loc, t, y) in enumerate(rows, 1)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_prediction_create_stores_what_it_answers(active_version):
    prediction = services.prediction_create(
        tweet=tweet_clean(text="  Forest fire near La Ronge Sask. Canada ", keyword="fire"),
        source=Source.API,
    )
    stored = Prediction.objects.get(pk=prediction.pk)
    assert stored.text == "Forest fire near La Ronge Sask. Canada"
    assert stored.keyword == "fire"
    assert stored.location == ""
    assert stored.model_version == active_version
    assert stored.threshold == active_version.threshold
    assert 0.0 <= stored.probability <= 1.0
    expected = Label.DISASTER if stored.probability >= stored.threshold else Label.NOT_DISASTER
    assert stored.predicted_label == expected
    assert stored.source == Source.API
    assert stored.true_label is None


def test_prediction_create_calls_a_wildfire_a_disaster(active_version):
    prediction = services.prediction_create(
        tweet=tweet_clean(text="Forest fire near La Ronge Sask. Canada"), source=Source.API
    )
    assert prediction.predicted_label == Label.DISASTER


def test_prediction_create_without_a_model_is_unavailable():
    with pytest.raises(ModelUnavailable, match="no model is active"):
        services.prediction_create(tweet=tweet_clean(text="Flooding downtown"), source=Source.API)
    assert Prediction.objects.count() == 0


def test_prediction_create_batch_keeps_order_and_stores_all(active_version):
    tweets = [
        tweet_clean(text="Forest fire near La Ronge Sask. Canada"),
        tweet_clean(text="I love this new song", keyword="", location="Paris"),
        tweet_clean(text="Evacuation ordered after the flood", keyword="flood"),
    ]
    predictions = services.prediction_create_batch(tweets=tweets)
    assert [p.text for p in predictions] == [t.text for t in tweets]
    assert all(p.pk for p in predictions)
    assert Prediction.objects.filter(source=Source.BATCH).count() == 3
    single = services.prediction_create(
        tweet=tweet_clean(text=tweets[1].text, location="Paris"), source=Source.API
    )
    assert predictions[1].probability == pytest.approx(single.probability, abs=1e-6)


def test_prediction_relabel_records_reviewer_and_time_and_can_clear(active_version):
    reviewer = get_user_model().objects.create_user("rita")
    prediction = services.prediction_create(
        tweet=tweet_clean(text="Flooding downtown"), source=Source.FORM
    )
    services.prediction_relabel(prediction=prediction, true_label=Label.DISASTER, reviewer=reviewer)
    prediction.refresh_from_db()
    assert prediction.true_label == Label.DISASTER
    assert prediction.reviewed_by == reviewer
    assert prediction.reviewed_at is not None

    services.prediction_relabel(prediction=prediction, true_label=None, reviewer=reviewer)
    prediction.refresh_from_db()
    assert (prediction.true_label, prediction.reviewed_by, prediction.reviewed_at) == (None,) * 3


def test_prediction_relabel_rejects_unknown_labels(active_version):
    prediction = services.prediction_create(
        tweet=tweet_clean(text="Flooding downtown"), source=Source.FORM
    )
    with pytest.raises(ValueError, match="true_label"):
        services.prediction_relabel(prediction=prediction, true_label="maybe", reviewer=None)


def test_model_version_train_stores_verified_artifact_and_activates():
    version = services.model_version_train(data_path=settings.SAMPLE_TRAIN_DATA)
    assert version.is_active
    assert version.name == "v1"
    artifact = settings.MODELS_DIR / version.artifact_path
    assert artifact.is_file()
    from ml.persistence import file_sha256

    assert file_sha256(artifact) == version.sha256
    assert 0.0 < version.threshold < 1.0
    assert {"f1", "accuracy", "precision", "recall", "roc_auc"} <= set(version.metrics)
    assert version.base_rows > 100
    assert version.feedback_rows == 0
    assert version.training_data == "sample_tweets.csv"

    second = services.model_version_train(data_path=settings.SAMPLE_TRAIN_DATA, activate=False)
    assert second.name == "v2"
    assert not second.is_active
    assert list(ModelVersion.objects.filter(is_active=True)) == [version]


PLACES = ["harbour", "market", "station", "library", "school", "bridge", "stadium", "museum"]
PLACES += ["airport", "village", "castle", "garden", "factory", "hospital", "temple", "canyon"]
PLACES += ["island", "valley", "forest", "desert"]


def toy_base(tmp_path: Path) -> Path:
    """40 rows, 20 of each class, no two of them near-copies of each other."""
    return write_csv(
        tmp_path / "base.csv",
        [("", "", f"calm sunny day at the {place}", 0) for place in PLACES]
        + [("", "", f"huge earthquake destroyed the {place}", 1) for place in PLACES],
    )


def test_model_version_train_uses_reviewed_predictions_and_relabels_win(active_version, tmp_path):
    from predictor.models import EvaluationRow

    base = toy_base(tmp_path)
    reviewer = get_user_model().objects.create_user("rita")
    relabeled = services.prediction_create(
        tweet=tweet_clean(text="calm sunny day at the market"), source=Source.API
    )
    services.prediction_relabel(prediction=relabeled, true_label=Label.DISASTER, reviewer=reviewer)
    new_text = services.prediction_create(
        tweet=tweet_clean(text="Wildfire reaches the suburbs"), source=Source.API
    )
    services.prediction_relabel(prediction=new_text, true_label=Label.DISASTER, reviewer=reviewer)
    services.prediction_create(
        tweet=tweet_clean(text="unreviewed tweet stays out"), source=Source.API
    )

    version = services.model_version_train(data_path=base)
    held_out = set(EvaluationRow.objects.values_list("text", flat=True))
    assert len(held_out) == version.gate["rows"]["evaluation"] == 8  # a fifth, 4 of each class
    if relabeled.text in held_out:
        # A review of an evaluation row trains nothing: the base row stays held out.
        assert (version.base_rows, version.feedback_rows) == (32, 1)
    else:
        # The relabeled base row is replaced, not duplicated.
        assert (version.base_rows, version.feedback_rows) == (31, 2)

    without = services.model_version_train(data_path=base, include_feedback=False)
    assert (without.base_rows, without.feedback_rows) == (32, 0)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ("id,keyword,text\n1,a,b\n", "location"),
        ("id,keyword,location,text,target\n", "no data rows"),
        ("keyword,location,text,target\n,,one,1\n,,two,1\n,,three,1\n", "both classes"),
    ],
)
def test_model_version_train_refuses_unusable_data_and_changes_nothing(
    active_version, tmp_path, content, message
):
    path = tmp_path / "data.csv"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    before = set(settings.MODELS_DIR.iterdir())
    with pytest.raises(DatasetError, match=message):
        services.model_version_train(data_path=path)
    assert list(ModelVersion.objects.all()) == [active_version]
    assert ModelVersion.objects.get(is_active=True) == active_version
    assert set(settings.MODELS_DIR.iterdir()) == before
    assert not EvaluationSet.objects.exists()


def test_data_that_splits_but_cannot_train_stores_no_evaluation_set(active_version, tmp_path):
    # Ten rows of each class: an evaluation set can be held out, but every training row is a
    # near-copy of one of its rows (digits do not tell them apart), so nothing is left to train.
    rows = [("", "", f"flood number {i}", 1) for i in range(10)]
    rows += [("", "", f"calm number {i}", 0) for i in range(10)]
    with pytest.raises(DatasetError):
        services.model_version_train(data_path=write_csv(tmp_path / "copies.csv", rows))
    assert not EvaluationSet.objects.exists()
    assert list(ModelVersion.objects.all()) == [active_version]


def test_model_version_activate_switches_atomically(make_version):
    first = make_version("v1")
    second = make_version("v2", activate=False)
    services.model_version_activate(version=second, via="test")
    assert list(ModelVersion.objects.filter(is_active=True)) == [second]
    services.model_version_activate(version=first, via="test")
    assert list(ModelVersion.objects.filter(is_active=True)) == [first]


def test_every_activation_is_on_record_with_who_where_and_the_version_it_replaced(
    make_version, django_user_model
):
    from django.contrib.admin.models import LogEntry

    from predictor.models import ModelActivation

    first = make_version("v1", activate=False)
    second = make_version("v2", activate=False)
    operator = django_user_model.objects.create_user("olga", is_staff=True)
    services.model_version_activate(version=first, via="command")
    services.model_version_activate(version=second, user=operator, via="admin", reason="better")
    services.model_version_activate(version=second, via="command")  # already active: no record

    history = list(ModelActivation.objects.order_by("created", "id"))
    assert [(a.version, a.previous, a.user, a.via, a.reason) for a in history] == [
        (first, None, None, "command", ""),
        (second, first, operator, "admin", "better"),
    ]
    # A person's activation is also in the version's admin history.
    (entry,) = LogEntry.objects.filter(object_id=str(second.pk))
    assert (entry.user, entry.get_change_message()) == (operator, "Activated (was v1).")


def test_training_records_its_activation_and_refreshes_the_planner_statistics(active_version):
    from django.db import connection

    from predictor.models import ModelActivation

    if connection.vendor == "sqlite":
        services.prediction_create(tweet=tweet_clean(text="Flood"), source=Source.API)
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM sqlite_stat1")
    refused = services.model_version_train(data_path=settings.SAMPLE_TRAIN_DATA)
    # The sample's evaluation set is too small for the gate to tell a gain from noise.
    assert (refused.is_active, refused.gate["decision"]) == (False, "refused")
    assert ModelActivation.objects.latest().version == active_version

    forced = services.model_version_train(
        data_path=settings.SAMPLE_TRAIN_DATA, force_reason="trying it out"
    )
    latest = ModelActivation.objects.latest()
    assert (latest.version, latest.previous, latest.via) == (forced, active_version, "retrain")
    assert latest.reason.startswith("forced: trying it out (the gate said: refuse: too few")
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'predictor_prediction'")
            assert cursor.fetchone()[0] > 0


def test_model_version_activate_refuses_a_tampered_or_missing_artifact(make_version):
    good = make_version("v1")
    bad = make_version("v2", activate=False)
    path = settings.MODELS_DIR / bad.artifact_path
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="SHA-256"):
        services.model_version_activate(version=bad, via="test")
    path.unlink()
    with pytest.raises(ArtifactError, match="missing"):
        services.model_version_activate(version=bad, via="test")
    assert ModelVersion.objects.get(is_active=True) == good


def test_model_version_ensure_active_trains_only_when_needed():
    version, trained = services.model_version_ensure_active(data_path=settings.SAMPLE_TRAIN_DATA)
    assert trained and version.is_active
    again, trained_again = services.model_version_ensure_active(
        data_path=settings.SAMPLE_TRAIN_DATA
    )
    assert (again, trained_again) == (version, False)
    assert ModelVersion.objects.count() == 1
    from predictor.models import ModelActivation

    (activation,) = ModelActivation.objects.all()
    assert (activation.version, activation.previous, activation.via) == (
        version,
        None,
        "first model",
    )
    assert activation.reason == "first version: nothing to compare with"


def test_model_version_evaluate_scores_a_labelled_file(active_version):
    metrics = services.model_version_evaluate(
        version=active_version, data_path=settings.SAMPLE_TRAIN_DATA
    )
    assert metrics.n > 100
    assert 0.5 < metrics.f1 <= 1.0
