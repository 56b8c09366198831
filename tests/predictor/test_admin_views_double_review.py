"""Double review in the admin's pages: the queue's second reviews, the conflicts page (who may
see it, resolving, bad input) and the dashboard's two sections."""

from __future__ import annotations

import re

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from predictor.models import Label, Prediction, SecondReview
from tests.predictor.conftest import review

pytestmark = pytest.mark.django_db

QUEUE = reverse("admin:predictor_prediction_review")
CONFLICTS = reverse("admin:predictor_prediction_conflicts")
DASHBOARD = reverse("admin:predictor_prediction_dashboard")
D, N = Label.DISASTER, Label.NOT_DISASTER


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture
def in_conflict(always_double, make_prediction, users) -> Prediction:
    prediction = make_prediction("Bridge collapsed after the storm", probability=0.6)
    review(prediction, users["ana"], D)
    review(prediction, users["ben"], N)
    return prediction


def test_the_second_reviewer_sees_it_marked_without_the_first_label(
    always_double, make_prediction, users
):
    prediction = make_prediction("Smoke over the hills", probability=0.9)
    ana, ben = client_of(users["ana"]), client_of(users["ben"])
    ana.post(QUEUE, {"prediction": prediction.pk, "decision": D})
    assert Prediction.objects.get(pk=prediction.pk).second_review == SecondReview.PENDING

    page = ben.get(QUEUE)
    assert page.context["prediction"] == prediction
    html = page.content.decode()
    assert 'id="review-second"' in html and "Second review" in html
    # Nothing on the page gives the first label away (not even the admin link to the item).
    assert not re.search(r"\bana\b", html)
    assert reverse("admin:predictor_prediction_change", args=[prediction.pk]) not in html

    assert ana.get(QUEUE).context["prediction"] is None  # never to its first reviewer
    ben.post(QUEUE, {"prediction": prediction.pk, "decision": N})
    assert Prediction.objects.get(pk=prediction.pk).second_review == SecondReview.CONFLICT


def test_the_first_reviewer_cannot_second_review_their_own_item(
    always_double, make_prediction, users
):
    prediction = make_prediction()
    review(prediction, users["ana"], D)
    response = client_of(users["ana"]).post(QUEUE, {"prediction": prediction.pk, "decision": N})
    assert "was already reviewed" in messages_of(response)[0]
    prediction.refresh_from_db()
    assert (prediction.true_label, prediction.second_review) == (D, SecondReview.PENDING)


def test_a_second_review_given_meanwhile_is_not_counted_twice(in_conflict, users):
    response = client_of(users["cy"]).post(QUEUE, {"prediction": in_conflict.pk, "decision": D})
    assert "was already reviewed" in messages_of(response)[0]
    assert in_conflict.reviews.count() == 2


def test_the_conflicts_page_lists_both_labels_with_who_gave_them(admin_client, in_conflict):
    response = admin_client.get(CONFLICTS)
    assert response.status_code == 200
    row = response.content.decode().split(f'id="conflict-{in_conflict.pk}"')[1].split("</tr>")[0]
    assert "Bridge collapsed after the storm" in row
    assert "Disaster" in row and "by ana" in row
    assert "Not a disaster" in row and "by ben" in row


def test_resolving_a_conflict(admin_client, admin_user, in_conflict):
    response = admin_client.post(CONFLICTS, {"prediction": in_conflict.pk, "true_label": N})
    assert response.status_code == 302
    (message,) = messages_of(response)
    assert message.endswith(f">#{in_conflict.pk}</a> resolved as “Not a disaster”.")
    in_conflict.refresh_from_db()
    assert (in_conflict.second_review, in_conflict.true_label) == (SecondReview.RESOLVED, N)
    assert in_conflict.reviewed_by == admin_user
    assert f'id="conflict-{in_conflict.pk}"' not in admin_client.get(CONFLICTS).content.decode()
    again = admin_client.post(CONFLICTS, {"prediction": in_conflict.pk, "true_label": D})
    assert "is not in conflict" in messages_of(again)[0]
    in_conflict.refresh_from_db()
    assert in_conflict.true_label == N


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"prediction": "abc", "true_label": "disaster"},
        {"prediction": "1"},
        {"prediction": "1", "true_label": "maybe"},
        {"prediction": "-4", "true_label": "disaster"},
    ],
)
def test_bad_resolutions_change_nothing(admin_client, in_conflict, data):
    data = {key: str(in_conflict.pk) if value == "1" else value for key, value in data.items()}
    response = admin_client.post(CONFLICTS, data)
    assert response.status_code == 302
    assert messages_of(response) == ["Choose the final label of a prediction; nothing was changed."]
    in_conflict.refresh_from_db()
    assert in_conflict.second_review == SecondReview.CONFLICT


def test_an_unknown_prediction_is_a_warning_not_an_error(admin_client, in_conflict):
    response = admin_client.post(CONFLICTS, {"prediction": 99999, "true_label": D})
    assert response.status_code == 302
    assert "is not in conflict" in messages_of(response)[0]


def test_reviewers_without_the_permission_are_forbidden(reviewer_client, in_conflict):
    assert reviewer_client.get(CONFLICTS).status_code == 403
    response = reviewer_client.post(CONFLICTS, {"prediction": in_conflict.pk, "true_label": D})
    assert response.status_code == 403
    in_conflict.refresh_from_db()
    assert in_conflict.second_review == SecondReview.CONFLICT
    # Nor a link to it on their pages.
    assert CONFLICTS not in reviewer_client.get(QUEUE).content.decode()
    assert CONFLICTS not in reviewer_client.get(DASHBOARD).content.decode()


def test_the_permission_lets_a_reviewer_resolve(reviewer, in_conflict):
    from django.contrib.auth.models import Permission

    reviewer.user_permissions.add(Permission.objects.get(codename="resolve_conflict"))
    client = client_of(reviewer)
    assert client.get(CONFLICTS).status_code == 200
    client.post(CONFLICTS, {"prediction": in_conflict.pk, "true_label": D})
    in_conflict.refresh_from_db()
    assert in_conflict.second_review == SecondReview.RESOLVED


def test_outsiders_are_kept_out(client, plain_client):
    assert client.get(CONFLICTS).status_code == 302  # to the login page
    assert plain_client.get(CONFLICTS).status_code == 302


def test_the_dashboard_shows_double_review_and_reviewer_agreement(admin_client, in_conflict):
    html = admin_client.get(DASHBOARD).content.decode()
    assert 'id="double-review"' in html and 'id="reviewers-evaluation"' in html
    pairs = html.split('id="reviewer-pairs"')[1].split("</table>")[0]
    # One item, they disagreed: agreement 0%; kappa is 0 (both constant, different labels).
    assert "ana and ben" in pairs and "0.0%" in pairs
    assert CONFLICTS in html
    assert "No evaluation set yet" in html


def test_the_dashboard_on_an_empty_database_shows_both_sections(admin_client):
    html = admin_client.get(DASHBOARD).content.decode()
    assert "No second reviews in this period." in html
    assert "No evaluation set yet" in html
