"""Double review: the draw of first reviews for a second reviewer, the queue that never shows an
item to its first reviewer, agreed and conflict, resolution, what trains while in conflict, and
the Review rows every path writes."""

from __future__ import annotations

import random
import threading

import pytest
from django.contrib.admin.models import LogEntry
from django.db import connection, transaction
from rest_framework.test import APIClient

from predictor import selectors, services
from predictor.models import Label, Prediction, Review, ReviewKind, SecondReview
from tests.predictor.conftest import review

pytestmark = pytest.mark.django_db

D, N = Label.DISASTER, Label.NOT_DISASTER


def state(prediction) -> str:
    prediction.refresh_from_db()
    return prediction.second_review


def test_the_draw_follows_the_share_with_a_seeded_rng(settings, make_prediction, users):
    settings.DOUBLE_REVIEW_SHARE = 0.25
    predictions = [make_prediction(f"post {n}") for n in range(200)]
    rng = random.Random(17)
    for prediction in predictions:
        review(prediction, users["ana"], D, rng=rng)
    pending = Prediction.objects.filter(second_review=SecondReview.PENDING).count()
    # One draw per first review, in order: the same seed draws the same ones.
    replay = random.Random(17)
    assert pending == sum(replay.random() < 0.25 for _ in predictions)
    assert 30 <= pending <= 70  # ~50 of 200: the share, not everything or nothing


@pytest.mark.parametrize(("share", "pending"), [(0, 0), (1, 5)])
def test_share_zero_draws_none_and_one_draws_all(settings, make_prediction, users, share, pending):
    settings.DOUBLE_REVIEW_SHARE = share
    for n in range(5):
        review(make_prediction(f"post {n}"), users["ana"], D)
    assert Prediction.objects.filter(second_review=SecondReview.PENDING).count() == pending


def test_admin_bulk_actions_and_relabels_draw_nothing(always_double, make_prediction, users):
    for n in range(3):
        make_prediction(f"post {n}")
    services.prediction_review(
        predictions=Prediction.objects.all(),
        true_label=D,
        reviewer=users["ana"],
        via="admin action",
    )
    assert not Prediction.objects.exclude(second_review="").exists()
    assert set(Review.objects.values_list("kind", flat=True)) == {ReviewKind.FIRST}
    # A relabel of a reviewed item (even through the API's double-review path) draws nothing.
    prediction = Prediction.objects.first()
    review(prediction, users["ben"], N, via="API")
    assert state(prediction) == SecondReview.NONE
    assert Review.objects.get(kind=ReviewKind.RELABEL).reviewer == users["ben"]


def test_a_pending_item_is_never_offered_to_its_first_reviewer(
    always_double, make_prediction, users
):
    drawn = make_prediction("Flood in the valley", probability=0.9)
    review(drawn, users["ana"], D)
    other = make_prediction("Most uncertain, next in the plain order", probability=0.5)
    for _ in range(20):  # audit draws and the plain order never bring it back to ana either
        shown = services.prediction_review_next(reviewer=users["ana"], rng=random.Random())
        assert shown.pk == other.pk
    assert services.prediction_review_next(reviewer=users["ana"], exclude_ids=[other.pk]) is None
    # Anyone else gets it first, before the plain order; unless they skipped it.
    assert services.prediction_review_next(reviewer=users["ben"]).pk == drawn.pk
    assert services.prediction_review_next(reviewer=users["ben"], exclude_ids=[drawn.pk]) == other


def test_same_label_agrees_and_a_different_one_is_a_conflict(always_double, make_prediction, users):
    agreed, disputed = make_prediction("one"), make_prediction("two")
    review(agreed, users["ana"], D)
    review(disputed, users["ana"], D)
    assert review(agreed, users["ben"], D) == 1
    assert review(disputed, users["ben"], N, shown=False) == 1
    assert state(agreed) == SecondReview.AGREED
    assert state(disputed) == SecondReview.CONFLICT
    # The first label stands (the first reviewer's), until resolved.
    assert (disputed.true_label, disputed.reviewed_by) == (D, users["ana"])
    second = Review.objects.get(prediction=disputed, kind=ReviewKind.SECOND)
    assert (second.reviewer, second.label, second.explanation_shown) == (users["ben"], N, False)
    entry = LogEntry.objects.filter(object_id=str(disputed.pk)).latest("id")
    assert "second review: Not a disaster; in conflict" in entry.change_message
    # Neither is offered again: the second review is done.
    assert services.prediction_review_next(reviewer=users["cy"]) is None


def test_the_first_reviewer_changing_a_pending_item_keeps_it_pending(
    always_double, make_prediction, users
):
    prediction = make_prediction()
    review(prediction, users["ana"], D)
    review(prediction, users["ana"], N, via="API")  # their own first review, changed
    assert state(prediction) == SecondReview.PENDING
    assert prediction.true_label == N
    assert Review.objects.filter(prediction=prediction).latest("id").kind == ReviewKind.RELABEL
    # The second review is compared with the label as it now stands.
    review(prediction, users["ben"], N)
    assert state(prediction) == SecondReview.AGREED


def test_clearing_a_label_ends_its_double_review(always_double, make_prediction, users):
    prediction = make_prediction()
    review(prediction, users["ana"], D)
    review(prediction, users["ana"], None, via="admin action", double=False)
    assert state(prediction) == SecondReview.NONE
    assert prediction.true_label is None
    assert Review.objects.filter(prediction=prediction).latest("id").label is None


def test_resolution_sets_the_final_label_once(always_double, make_prediction, users, admin_user):
    prediction = make_prediction()
    review(prediction, users["ana"], D)
    review(prediction, users["ben"], N)
    assert services.prediction_conflict_resolve(
        prediction=prediction, true_label=N, resolver=admin_user
    )
    assert state(prediction) == SecondReview.RESOLVED
    assert (prediction.true_label, prediction.reviewed_by) == (N, admin_user)
    resolution = Review.objects.get(kind=ReviewKind.RESOLUTION)
    assert (resolution.reviewer, resolution.label) == (admin_user, N)
    # Not in conflict any more: a second resolution changes nothing.
    assert not services.prediction_conflict_resolve(
        prediction=prediction, true_label=D, resolver=admin_user
    )
    assert state(prediction) == SecondReview.RESOLVED and prediction.true_label == N
    with pytest.raises(ValueError, match="true_label"):
        services.prediction_conflict_resolve(
            prediction=prediction, true_label="maybe", resolver=admin_user
        )


def test_a_conflict_trains_nothing_and_evaluates_nothing_until_resolved(
    always_double, make_prediction, users, admin_user
):
    plain = make_prediction("plain feedback row")
    review(plain, users["cy"], D, double=False)
    disputed = make_prediction("disputed training row")
    audit = make_prediction("disputed audit row", is_audit=True)
    for prediction in (disputed, audit):
        review(prediction, users["ana"], D)
        review(prediction, users["ben"], N)
    assert [row[0] for row in selectors.feedback_dataset().rows()] == ["plain feedback row"]
    assert selectors.audit_reviews() == []
    assert selectors.prediction_audit_estimate().reviewed == 0
    assert selectors.prediction_review_figures(since=plain.created).reviewed == 1

    for prediction in (disputed, audit):
        services.prediction_conflict_resolve(
            prediction=prediction, true_label=N, resolver=admin_user
        )
    texts = {row[0]: row[3] for row in selectors.feedback_dataset().rows()}
    assert texts == {"plain feedback row": 1, "disputed training row": 0}
    assert selectors.audit_reviews() == [(audit.pk, ("disputed audit row", "", "", 0))]
    assert selectors.prediction_review_figures(since=plain.created).reviewed == 3


def test_a_pending_item_still_trains_on_its_first_label(always_double, make_prediction, users):
    review(make_prediction("waiting"), users["ana"], D)
    assert [row[3] for row in selectors.feedback_dataset().rows()] == [1]


def test_the_api_patch_is_a_first_review_then_the_second(always_double, make_prediction, users):
    prediction = make_prediction()
    ana, ben = APIClient(), APIClient()
    ana.force_authenticate(users["ana"])
    ben.force_authenticate(users["ben"])
    url = f"/api/predictions/{prediction.pk}/"
    assert ana.patch(url, {"true_label": D}, format="json").status_code == 200
    assert state(prediction) == SecondReview.PENDING
    response = ben.patch(url, {"true_label": N}, format="json")
    assert response.status_code == 200
    assert response.json()["true_label"] == D  # the first label stands while in conflict
    assert state(prediction) == SecondReview.CONFLICT
    kinds = list(Review.objects.order_by("id").values_list("kind", "via", "reviewer__username"))
    assert kinds == [(ReviewKind.FIRST, "API", "ana"), (ReviewKind.SECOND, "API", "ben")]


def test_every_path_writes_a_review_with_what_was_passed(make_prediction, users):
    one, two = make_prediction("one"), make_prediction("two")
    services.prediction_review(
        predictions=Prediction.objects.all(),
        true_label=D,
        reviewer=users["ana"],
        via="admin action",
    )
    review(one, users["ben"], N, via="review queue", shown=True)
    review(two, users["ben"], N, via="review queue", shown=False)
    rows = list(
        Review.objects.order_by("id").values_list(
            "prediction_id", "kind", "label", "via", "explanation_shown", "reviewer__username"
        )
    )
    assert rows == [
        (one.pk, ReviewKind.FIRST, D, "admin action", None, "ana"),
        (two.pk, ReviewKind.FIRST, D, "admin action", None, "ana"),
        (one.pk, ReviewKind.RELABEL, N, "review queue", True, "ben"),
        (two.pk, ReviewKind.RELABEL, N, "review queue", False, "ben"),
    ]
    assert LogEntry.objects.count() == 4


@pytest.mark.django_db(transaction=True)
def test_of_two_second_reviews_at_once_one_counts(always_double, make_prediction, users):
    """Ben's second review holds its transaction open; Cy's, given meanwhile, must wait for it
    and then find the item no longer pending."""
    if connection.vendor != "postgresql":
        pytest.skip("needs row locks between connections (PostgreSQL); SQLite runs one writer")
    prediction = make_prediction()
    review(prediction, users["ana"], D)
    ben_done, results = threading.Event(), {}

    def ben() -> None:
        with transaction.atomic():
            results["ben"] = review(prediction, users["ben"], N)
            ben_done.set()
            cy_thread.join(timeout=1)  # Cy is blocked on the row until this commits
        connection.close()

    def cy() -> None:
        ben_done.wait(timeout=10)
        results["cy"] = review(prediction, users["cy"], D)
        connection.close()

    cy_thread = threading.Thread(target=cy)
    ben_thread = threading.Thread(target=ben)
    ben_thread.start()
    cy_thread.start()
    ben_thread.join(timeout=30)
    cy_thread.join(timeout=30)
    assert results == {"ben": 1, "cy": 0}
    assert state(prediction) == SecondReview.CONFLICT
    assert Review.objects.filter(kind=ReviewKind.SECOND).count() == 1
