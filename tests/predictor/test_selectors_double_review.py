"""The reviewers' agreement figures: per pair of reviewers (observed agreement, Cohen's kappa) from
real double reviews, each reviewer against the evaluation set's labels by explanation setting,
and the conflicts list."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from predictor import selectors, services
from predictor.models import EvaluationRow, EvaluationSet, Label, Prediction, Review
from tests.predictor.conftest import review

pytestmark = pytest.mark.django_db

D, N = Label.DISASTER, Label.NOT_DISASTER


def long_ago():
    return timezone.now() - timedelta(days=1)


def double_review(make_prediction, first, first_label, second, second_label):
    prediction = make_prediction()
    review(prediction, first, first_label)
    review(prediction, second, second_label)
    return prediction


def test_kappa_per_pair_against_a_hand_computed_table(always_double, make_prediction, users):
    ana, ben, cy = users["ana"], users["ben"], users["cy"]
    # Ana's and Ben's labels of 10 items (who reviewed first alternates: the pair is unordered).
    table = [(D, D)] * 4 + [(D, N)] * 2 + [(N, N)] * 3 + [(N, D)]
    for n, (ana_label, ben_label) in enumerate(table):
        if n % 2:
            double_review(make_prediction, ana, ana_label, ben, ben_label)
        else:
            double_review(make_prediction, ben, ben_label, ana, ana_label)
    # By hand: they agree on 4 + 3 = 7 of 10, p_o = 0.7. Ana said D 6 times (0.6), N 4 (0.4);
    # Ben D 5 (0.5), N 5 (0.5): p_e = 0.6 * 0.5 + 0.4 * 0.5 = 0.5.
    # kappa = (p_o - p_e) / (1 - p_e) = 0.2 / 0.5 = 0.4.
    for _ in range(3):  # Ana and Cy: both always D, so kappa is undefined (0/0)
        double_review(make_prediction, cy, D, ana, D)
    review(make_prediction(), ben, D)  # pending: no pair yet

    pairs = selectors.review_pair_agreement(since=long_ago())
    assert [pair.reviewers for pair in pairs] == [("ana", "ben"), ("ana", "cy")]
    ana_ben, ana_cy = pairs
    assert (ana_ben.agreement.n, ana_ben.agreement.agreed) == (10, 7)
    assert ana_ben.agreement.share == pytest.approx(0.7)
    assert ana_ben.kappa == pytest.approx(0.4)
    assert (ana_cy.agreement.n, ana_cy.agreement.share, ana_cy.kappa) == (3, 1.0, None)
    # Second reviews before the period do not count.
    assert selectors.review_pair_agreement(since=timezone.now()) == []


def test_a_pair_compares_with_the_label_that_stood(always_double, make_prediction, users):
    prediction = make_prediction()
    review(prediction, users["ana"], D)
    review(prediction, users["ana"], N, via="API")  # Ana changed her first review
    review(prediction, users["ben"], N)
    (pair,) = selectors.review_pair_agreement(since=long_ago())
    assert (pair.agreement.n, pair.agreement.agreed) == (1, 1)


def test_the_conflicts_list_shows_both_reviews(always_double, make_prediction, users, admin_user):
    disputed = double_review(make_prediction, users["ana"], D, users["ben"], N)
    double_review(make_prediction, users["ana"], D, users["cy"], D)  # agreed: not listed
    resolved = double_review(make_prediction, users["ben"], N, users["cy"], D)
    services.prediction_conflict_resolve(prediction=resolved, true_label=D, resolver=admin_user)
    (conflict,) = selectors.prediction_conflict_list()
    assert conflict.prediction == disputed
    assert (conflict.first.reviewer, conflict.first.label) == (users["ana"], D)
    assert (conflict.second.reviewer, conflict.second.label) == (users["ben"], N)
    assert selectors.prediction_double_review_counts() == {"pending": 0, "conflicts": 1}


@pytest.fixture
def evaluation_set():
    """A current evaluation set: base rows (one pair of near-copies with both targets, which
    says nothing) and an audit row, which is not a base row."""
    record = EvaluationSet.objects.create(
        identifier="e" * 64, base_rows=4, audit_rows=1, training_data="train.csv"
    )
    rows = [
        ("Forest fire near La Ronge Sask. Canada", 1, None),
        ("I love fruits", 0, None),
        ("Same words, two labels", 1, None),
        ("same words two labels!!", 0, None),
    ]
    for text, target, prediction in rows:
        EvaluationRow.objects.create(
            evaluation_set=record, text=text, target=target, prediction=prediction
        )
    return record


def test_agreement_with_the_evaluation_set_by_explanation_setting(
    evaluation_set,
    make_prediction,
    users,
):
    ana, ben = users["ana"], users["ben"]
    forest = "forest fire near la ronge sask canada http://t.co/abc"  # a near-copy of a base row
    review(make_prediction(forest), ana, D, shown=True)  # agrees
    review(make_prediction("I love fruits!!! 123"), ana, D, shown=False)  # disagrees
    review(make_prediction("@x Forest fire near La Ronge, Sask. Canada"), ben, D, shown=False)
    review(make_prediction("Nothing like any row"), ben, N, shown=True)  # not in the set
    review(make_prediction("Same words two labels"), ben, D, shown=True)  # ambiguous: left out
    services.prediction_review(  # an admin action: whether an explanation was shown is unknown
        predictions=Prediction.objects.filter(pk=make_prediction("i love FRUITS").pk),
        true_label=N,
        reviewer=ben,
        via="admin action",
    )
    audit = make_prediction("An audit row's own text")
    EvaluationRow.objects.create(evaluation_set=evaluation_set, text=audit.text, target=1)
    EvaluationRow.objects.filter(text=audit.text).update(prediction=audit)
    review(audit, ana, N, shown=True)  # matches only an audit row: not counted

    rows = selectors.reviewer_evaluation_agreement(since=long_ago(), evaluation_set=evaluation_set)
    figures = {
        row.reviewer: {
            setting: (getattr(row, setting).n, getattr(row, setting).agreed)
            for setting in ("shown", "blind", "unknown", "total")
        }
        for row in rows
    }
    assert list(figures) == ["ana", "ben", None]  # by name, then everyone
    assert figures["ana"] == {
        "shown": (1, 1),
        "blind": (1, 0),
        "unknown": (0, 0),
        "total": (2, 1),
    }
    assert figures["ben"] == {
        "shown": (0, 0),
        "blind": (1, 1),
        "unknown": (1, 1),
        "total": (2, 2),
    }
    assert figures[None] == {"shown": (1, 1), "blind": (2, 1), "unknown": (1, 1), "total": (4, 3)}
    assert rows[0].blind.share == 0.0 and rows[0].unknown.share is None

    # Reviews before the period, and no evaluation set at all, give nothing.
    Review.objects.update(created=timezone.now() - timedelta(days=3))
    assert (
        selectors.reviewer_evaluation_agreement(since=long_ago(), evaluation_set=evaluation_set)
        == []
    )
    assert selectors.reviewer_evaluation_agreement(since=long_ago(), evaluation_set=None) == []
