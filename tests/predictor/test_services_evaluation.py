"""The evaluation set, the audit sample and the gate's services: what joins the set and what
trains, re-scoring when the set changes, comparing, promoting and rolling back."""

from __future__ import annotations

import random

import pytest
from django.conf import settings

from predictor import selectors, services
from predictor.errors import NoEarlierVersion
from predictor.models import EvaluationSet, Label, ModelActivation, ModelVersion, Prediction
from predictor.tweets import Tweet

pytestmark = pytest.mark.django_db


WORDS = [
    "amber",
    "birch",
    "cedar",
    "dune",
    "ember",
    "fjord",
    "glade",
    "heath",
    "inlet",
    "jetty",
    "knoll",
    "ledge",
    "marsh",
]


def stored(count: int) -> list[Prediction]:
    """`count` stored predictions, no two of them near-copies (digits do not tell them apart)."""
    return services.prediction_create_batch(
        tweets=[
            Tweet(f"weather at the {WORDS[i % 13]} {WORDS[i // 13 % 13]}") for i in range(count)
        ]
    )


def test_the_queue_mixes_in_random_audit_items_at_the_configured_share(active_version, settings):
    settings.AUDIT_SHARE = 0.25
    stored(50)
    rng = random.Random(7)
    uncertain = selectors.prediction_unreviewed_next()
    audit = []
    for _ in range(400):
        Prediction.objects.update(is_audit=False)  # so each call's mark is its own
        shown = services.prediction_review_next(rng=rng)
        if shown.is_audit:
            assert Prediction.objects.get(is_audit=True) == shown
            audit.append(shown.pk)
        else:
            assert shown == uncertain
    assert 0.18 <= len(audit) / 400 <= 0.32
    # Random draws reach across the stored predictions, not just the top of the queue.
    assert len(set(audit)) >= 30


def test_without_an_audit_share_the_queue_keeps_its_order(active_version, settings):
    settings.AUDIT_SHARE = 0
    stored(10)
    first = selectors.prediction_unreviewed_next()
    assert {services.prediction_review_next().pk for _ in range(20)} == {first.pk}
    assert not Prediction.objects.filter(is_audit=True).exists()


def test_audit_reviews_join_the_evaluation_set_not_the_training_data(
    active_version, django_user_model
):
    reviewer = django_user_model.objects.create_user("rita")
    audited, trained_on = stored(2)
    Prediction.objects.filter(pk=audited.pk).update(is_audit=True)
    for prediction in (audited, trained_on):
        services.prediction_review(
            predictions=Prediction.objects.filter(pk=prediction.pk),
            true_label=Label.DISASTER,
            reviewer=reviewer,
            via="test",
        )
    assert selectors.feedback_dataset().text == (trained_on.text,)
    assert [pk for pk, _ in selectors.audit_reviews()] == [audited.pk]

    version = services.model_version_train(data_path=settings.SAMPLE_TRAIN_DATA)
    evaluation = EvaluationSet.objects.get(identifier=version.evaluation["set"])
    assert evaluation.audit_rows == 1
    assert evaluation.rows.filter(prediction=audited).get().target == 1
    assert version.feedback_rows == 1


def test_every_version_is_scored_again_when_the_set_changes(active_version, django_user_model):
    first = services.model_version_train(data_path=settings.SAMPLE_TRAIN_DATA)
    active_version.refresh_from_db()
    # The fixture's version was scored on the first set when the first training made it.
    assert active_version.evaluation["set"] == first.evaluation["set"]

    (audited,) = stored(1)
    Prediction.objects.filter(pk=audited.pk).update(is_audit=True)
    services.prediction_review(
        predictions=Prediction.objects.filter(pk=audited.pk),
        true_label=Label.NOT_DISASTER,
        reviewer=django_user_model.objects.create_user("rita"),
        via="test",
    )
    second = services.model_version_train(data_path=settings.SAMPLE_TRAIN_DATA)
    assert second.evaluation["set"] != first.evaluation["set"]
    assert second.evaluation["n"] == first.evaluation["n"] + 1
    for version in ModelVersion.objects.all():
        assert version.evaluation["set"] == second.evaluation["set"], version.name
    assert selectors.evaluation_set_current().identifier == second.evaluation["set"]


def test_the_same_rows_are_the_same_set(active_version):
    first = services.model_version_train(data_path=settings.SAMPLE_TRAIN_DATA)
    second = services.model_version_train(data_path=settings.SAMPLE_TRAIN_DATA)
    assert first.evaluation["set"] == second.evaluation["set"]
    assert EvaluationSet.objects.count() == 1
    assert EvaluationSet.objects.get().size == first.evaluation["n"]


def test_compare_promote_and_roll_back(make_version, django_user_model):
    operator = django_user_model.objects.create_user("olga", is_staff=True)
    v1 = make_version("v1")
    # The sample's evaluation set, so a comparison can be made (and refuses: too few rows).
    v2 = services.model_version_train(data_path=settings.SAMPLE_TRAIN_DATA)
    assert not v2.is_active

    comparison = services.model_version_compare(candidate=v2, active=v1)
    assert comparison.n == v2.evaluation["n"]
    assert not comparison.promote

    activated, refused = services.model_version_promote(version=v2, user=operator)
    assert (activated, refused.promote) == (False, False)
    assert ModelVersion.objects.get(is_active=True) == v1

    activated, _ = services.model_version_promote(version=v2, user=operator, force_reason="ok")
    assert activated and ModelVersion.objects.get(is_active=True) == v2
    assert ModelActivation.objects.latest().reason.startswith("forced: ok (the gate said: refuse")

    services.model_version_rollback(user=operator, via="admin")
    assert ModelVersion.objects.get(is_active=True) == v1
    latest = ModelActivation.objects.latest()
    assert (latest.version, latest.previous, latest.reason) == (v1, v2, "rollback")


def test_rollback_without_an_earlier_version_is_refused(make_version):
    make_version("v1")
    with pytest.raises(NoEarlierVersion, match="no earlier version"):
        services.model_version_rollback(user=None, via="command")


def test_which_version_was_active_when(make_version):
    from django.utils import timezone

    before = timezone.now()
    v1 = make_version("v1")
    after_v1 = timezone.now()
    v2 = make_version("v2")
    after_v2 = timezone.now()
    services.model_version_activate(version=v1, via="test", reason="rollback")
    assert selectors.model_version_active_at(before) is None
    assert selectors.model_version_active_at(after_v1) == v1
    assert selectors.model_version_active_at(after_v2) == v2
    assert selectors.model_version_active_at(timezone.now()) == v1


@pytest.mark.parametrize(
    ("reviewed", "agreed", "low", "high"),
    # Wilson 95% intervals, computed by hand: centre (p + z²/2n)/(1 + z²/n), half-width
    # z·sqrt(p(1-p)/n + z²/4n²)/(1 + z²/n), z = 1.96.
    [(10, 8, 0.4902, 0.9433), (100, 90, 0.8256, 0.9448), (20, 20, 0.8389, 1.0)],
)
def test_live_accuracy_from_the_audit_sample_has_a_wilson_interval(reviewed, agreed, low, high):
    estimate = selectors.AuditEstimate(reviewed=reviewed, agreed=agreed)
    assert estimate.accuracy == agreed / reviewed
    assert estimate.interval == pytest.approx((low, high), abs=5e-4)


def test_the_audit_estimate_counts_audit_reviews_only(make_prediction, django_user_model):
    rita = django_user_model.objects.create_user("rita")
    make_prediction(probability=0.9, is_audit=True, true_label=Label.DISASTER, reviewed_by=rita)
    make_prediction(probability=0.9, is_audit=True, true_label=Label.NOT_DISASTER)
    make_prediction(probability=0.9, is_audit=True)  # not reviewed yet
    make_prediction(probability=0.9, true_label=Label.NOT_DISASTER)  # the queue's, not audit
    assert selectors.prediction_audit_estimate() == selectors.AuditEstimate(reviewed=2, agreed=1)
    assert selectors.AuditEstimate(reviewed=0, agreed=0).interval is None
