"""The admin's side of the label check: the "Label looks wrong" filter, the sortable suspicion
column (unchecked rows last both ways) and the "Check labels" button that queues the job."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from predictor.models import Job, JobKind, JobStatus, Label, LabelSuspicion, Prediction

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:predictor_prediction_changelist")
CHECK = reverse("admin:predictor_prediction_check_labels")


def checked(prediction: Prediction, suspicion: float, *, flagged: bool) -> LabelSuspicion:
    """A label check's row for a reviewed prediction, as the service stores it."""
    return LabelSuspicion.objects.create(
        prediction=prediction,
        target=Label.to_target(prediction.true_label),
        probability=1 - suspicion if prediction.true_label == Label.DISASTER else suspicion,
        suspicion=suspicion,
        flagged=flagged,
        data_file="train.csv",
        computed=timezone.now(),
    )


@pytest.fixture
def checked_mix(make_prediction, admin_user):
    def review(text: str, label: str = Label.DISASTER) -> Prediction:
        return make_prediction(text, true_label=label, reviewed_by=admin_user)

    mix = {
        "very": review("Flood downtown", Label.NOT_DISASTER),
        "fairly": review("Fire in the hills"),
        "fine": review("Cake for tea", Label.NOT_DISASTER),
        "unchecked": review("Reviewed after the check"),
        "open": make_prediction("Nobody reviewed this"),
    }
    checked(mix["very"], 0.95, flagged=True)
    checked(mix["fairly"], 0.7, flagged=True)
    checked(mix["fine"], 0.05, flagged=False)
    return mix


def names(response, mix) -> list[str]:
    by_pk = {p.pk: name for name, p in mix.items()}
    return [by_pk[p.pk] for p in response.context["cl"].result_list]


def suspicion_column(response) -> int:
    return response.context["cl"].list_display.index("suspicion_display")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("yes", {"very", "fairly"}), ("no", {"fine"}), ("unchecked", {"unchecked", "open"})],
)
def test_the_label_looks_wrong_filter(admin_client, checked_mix, value, expected):
    response = admin_client.get(CHANGELIST, {"label_wrong": value})

    assert response.status_code == 200
    assert set(names(response, checked_mix)) == expected


def test_the_filter_is_offered_with_its_three_choices(admin_client, checked_mix):
    html = admin_client.get(CHANGELIST).content.decode()

    assert "By label looks wrong" in html
    for query in ("?label_wrong=yes", "?label_wrong=no", "?label_wrong=unchecked"):
        assert query in html


def test_suspicion_column_sorts_both_ways_with_unchecked_rows_last(admin_client, checked_mix):
    column = suspicion_column(admin_client.get(CHANGELIST))

    descending = names(admin_client.get(CHANGELIST, {"o": f"-{column}"}), checked_mix)
    ascending = names(admin_client.get(CHANGELIST, {"o": str(column)}), checked_mix)

    assert descending[:3] == ["very", "fairly", "fine"]
    assert ascending[:3] == ["fine", "fairly", "very"]
    assert set(descending[3:]) == set(ascending[3:]) == {"unchecked", "open"}


def test_suspicion_column_shows_the_score_and_the_flag(admin_client, checked_mix):
    html = admin_client.get(CHANGELIST, {"label_wrong": "yes"}).content.decode()

    assert "0.950 (looks wrong)" in html and "0.700 (looks wrong)" in html
    change = admin_client.get(
        reverse("admin:predictor_prediction_change", args=[checked_mix["fine"].pk])
    )
    assert "0.050" in change.content.decode()


def test_the_changelist_reads_the_suspicions_in_its_one_query(
    admin_client, checked_mix, make_prediction, admin_user, django_assert_max_num_queries
):
    admin_client.get(CHANGELIST)  # the session and the rest warmed up
    for i in range(30):
        prediction = make_prediction(
            f"More reviews {i}", true_label=Label.DISASTER, reviewed_by=admin_user
        )
        checked(prediction, i / 40, flagged=i % 2 == 0)

    with django_assert_max_num_queries(12):
        response = admin_client.get(CHANGELIST)

    assert len(response.context["cl"].result_list) == 35


def test_check_labels_queues_the_job_and_goes_to_its_page(client, reviewer):
    client.force_login(reviewer)

    response = client.post(CHECK)

    job = Job.objects.get()
    assert (job.kind, job.status, job.requested_by) == (
        JobKind.LABEL_ISSUES,
        JobStatus.QUEUED,
        reviewer,
    )
    assert response.status_code == 302 and response["Location"] == reverse("job", args=[job.pk])
    # A second click while it waits goes to the same job.
    again = client.post(CHECK)
    assert again["Location"] == reverse("job", args=[job.pk]) and Job.objects.count() == 1


def test_the_changelist_offers_the_button_to_reviewers(client, reviewer):
    client.force_login(reviewer)
    assert "Check labels" in client.get(CHANGELIST).content.decode()


def test_check_labels_needs_the_change_permission(staff_client, django_user_model):
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.get(username="sam")
    user.user_permissions.add(Permission.objects.get(codename="view_prediction"))

    assert "Check labels" not in staff_client.get(CHANGELIST).content.decode()
    assert staff_client.post(CHECK).status_code == 403
    assert not Job.objects.exists()


def test_check_labels_is_a_post(client, reviewer):
    client.force_login(reviewer)

    assert client.get(CHECK).status_code == 405
    assert not Job.objects.exists()
