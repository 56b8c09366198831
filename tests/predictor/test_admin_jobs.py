"""Background jobs in the admin: "Train a new version" on the model versions list (behind the
permission to add versions; a second one while one is queued goes to that one), and the
read-only job list with its filters, progress, links to the job pages and "Start again"."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from predictor.models import Job, JobKind, JobStatus
from tests.predictor.test_job_views import make_job, text

pytestmark = pytest.mark.django_db

VERSIONS = reverse("admin:predictor_modelversion_changelist")
TRAIN = reverse("admin:predictor_modelversion_train")
JOBS = reverse("admin:predictor_job_changelist")


def job_page(job: Job) -> str:
    return reverse("job", args=[job.pk])


@pytest.fixture
def trainer_client(django_user_model):
    """Staff who may view and add model versions (a client of its own)."""
    user = django_user_model.objects.create_user("tess", password="train-pass-123", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_modelversion", "add_modelversion"])
    )
    client = Client()
    client.force_login(user)
    client.user = user
    return client


# --- Train a new version ----------------------------------------------------------------------


def test_the_train_button_shows_only_with_the_permission(reviewer_client, trainer_client):
    assert "Train a new version" not in reviewer_client.get(VERSIONS).content.decode()
    html = trainer_client.get(VERSIONS).content.decode()
    assert re.search(
        rf'<form method="post" action="{TRAIN}" class="object-tool-form">\s*'
        r'<input type="hidden" name="csrfmiddlewaretoken"[^>]*>'
        r'<button type="submit">Train a new version</button>',
        html,
    )


def test_train_queues_a_training_and_goes_to_its_page(trainer_client):
    response = trainer_client.post(TRAIN, follow=True)
    job = Job.objects.get()
    assert response.redirect_chain == [(job_page(job), 302)]
    assert (job.kind, job.status, job.requested_by) == ("training", "queued", trainer_client.user)
    assert job.task_id
    page = text(response)
    assert f"Training queued as job #{job.pk}" in page
    assert "waiting for a worker" in page
    # The versions list says a training is on its way, with a link to it.
    listing = text(trainer_client.get(VERSIONS))
    assert f'A training is queued: <a href="{job_page(job)}">job #{job.pk}</a>' in listing


def test_a_second_training_goes_to_the_one_already_queued(trainer_client):
    first = trainer_client.post(TRAIN)
    job = Job.objects.get()
    second = trainer_client.post(TRAIN, follow=True)
    assert first["Location"] == job_page(job)
    assert second.redirect_chain == [(job_page(job), 302)]
    assert f"A training is already queued (job #{job.pk})" in text(second)
    assert Job.objects.count() == 1


def test_a_second_training_while_one_runs_says_running(trainer_client):
    running = make_job(
        trainer_client.user,
        kind=JobKind.TRAINING,
        status=JobStatus.RUNNING,
        stage="training",
        progress=30,
        started=timezone.now(),
        heartbeat=timezone.now(),
    )
    response = trainer_client.post(TRAIN, follow=True)
    assert response.redirect_chain == [(job_page(running), 302)]
    assert f"A training is already running (job #{running.pk})" in text(response)
    assert "(training, 30%)" in text(trainer_client.get(VERSIONS))


def test_train_needs_the_permission_and_a_post(reviewer_client, trainer_client):
    assert reviewer_client.post(TRAIN).status_code == 403
    assert trainer_client.get(TRAIN).status_code == 405
    assert Job.objects.count() == 0


@pytest.mark.parametrize("who", ["anonymous", "not staff"])
def test_train_sends_outsiders_to_the_login_page(client, django_user_model, who):
    if who == "not staff":
        client.force_login(django_user_model.objects.create_user("pat", password="p-123-abc"))
    assert client.post(TRAIN)["Location"] == f"{reverse('admin:login')}?next={TRAIN}"
    assert Job.objects.count() == 0


def test_train_needs_a_csrf_token(trainer_client):
    trainer_client.handler.enforce_csrf_checks = True
    assert trainer_client.post(TRAIN).status_code == 403
    assert Job.objects.count() == 0


# --- the job list -----------------------------------------------------------------------------


@pytest.fixture
def jobs_made(reviewer, admin_user):
    now = timezone.now()
    started = now - timedelta(seconds=75)
    return {
        "done": make_job(
            reviewer,
            status=JobStatus.SUCCEEDED,
            progress=100,
            stage="done",
            created=started,
            started=started,
            finished=started + timedelta(seconds=12),
        ),
        "failed": make_job(
            reviewer,
            status=JobStatus.FAILED,
            stage="scoring and storing",
            progress=35,
            created=started + timedelta(seconds=1),
            started=started,
            finished=now,
            error="line 3: bad",
        ),
        "training": make_job(
            admin_user,
            kind=JobKind.TRAINING,
            status=JobStatus.RUNNING,
            stage="training",
            progress=40,
            created=started + timedelta(seconds=2),
            started=started,
            heartbeat=now,
        ),
    }


def test_reviewers_see_the_jobs_newest_first_with_progress_and_links(reviewer_client, jobs_made):
    response = reviewer_client.get(JOBS)
    assert response.status_code == 200
    shown = list(response.context["cl"].result_list)
    assert shown == [jobs_made["training"], jobs_made["failed"], jobs_made["done"]]
    html = response.content.decode()
    headers = re.findall(r'<th scope="col" class="[^"]*column-(\w+)', html)
    assert headers == [
        "job",
        "kind",
        "status",
        "stage",
        "progress_bar",
        "requested_by",
        "created",
        "duration",
    ]
    training = jobs_made["training"]
    assert f'<a href="{job_page(training)}">#{training.pk}</a>' in html
    assert (
        f'<progress max="100" value="40" aria-label="Job #{training.pk} progress">40%</progress>'
        in html
    )
    page = text(response)
    assert "12 s" in page and "1 min 15 s" in page
    # Read-only: no add button, no change links, no delete action.
    assert "/add/" not in html and "/change/" not in html
    assert 'value="delete_selected"' not in html
    assert reverse("upload") in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [("kind__exact=training", ["training"]), ("status__exact=failed", ["failed"])],
)
def test_the_job_list_filters_by_kind_and_status(admin_client, jobs_made, query, expected):
    shown = list(admin_client.get(f"{JOBS}?{query}").context["cl"].result_list)
    assert shown == [jobs_made[name] for name in expected]


def test_staff_without_view_job_are_forbidden(staff_client, jobs_made):
    assert staff_client.get(JOBS).status_code == 403


def test_nothing_is_added_changed_or_deleted_through_the_admin(admin_client, jobs_made):
    job = jobs_made["done"]
    assert admin_client.get(reverse("admin:predictor_job_add")).status_code == 403
    change = reverse("admin:predictor_job_change", args=[job.pk])
    assert admin_client.get(change)["Location"] == job_page(job)
    assert admin_client.post(change, {"status": "failed"}).status_code == 302
    delete = reverse("admin:predictor_job_delete", args=[job.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    job.refresh_from_db()
    assert job.status == "succeeded"


def test_start_again_restarts_the_failed_jobs_only(reviewer_client, reviewer, jobs_made):
    selected = [job.pk for job in jobs_made.values()]
    response = reviewer_client.post(
        JOBS, {"action": "start_again", "_selected_action": selected}, follow=True
    )
    retry = Job.objects.get(retry_of=jobs_made["failed"])
    assert (retry.status, retry.requested_by) == ("queued", reviewer)
    assert Job.objects.count() == 4
    assert f'Started again as <a href="{job_page(retry)}">#{retry.pk}</a>.' in text(response)


def test_start_again_refuses_a_training_without_the_permission_to_train(
    reviewer_client, admin_client, admin_user
):
    failed = make_job(admin_user, kind=JobKind.TRAINING, status=JobStatus.FAILED, error="x")
    action = {"action": "start_again", "_selected_action": [failed.pk]}
    response = reviewer_client.post(JOBS, action, follow=True)
    assert f"Not started again: #{failed.pk} (not allowed)." in text(response)
    assert Job.objects.count() == 1

    admin_client.post(JOBS, action)
    assert Job.objects.get(retry_of=failed).kind == "training"
    # A second time, the retry is still queued: one training at a time.
    response = admin_client.post(JOBS, action, follow=True)
    assert "a training is already queued" in text(response)
    assert Job.objects.count() == 2


def test_start_again_with_no_failed_job_says_so(admin_client, jobs_made):
    action = {"action": "start_again", "_selected_action": [jobs_made["done"].pk]}
    assert "Only failed jobs can be started again." in text(
        admin_client.post(JOBS, action, follow=True)
    )


def test_the_admin_index_and_the_predictions_list_link_to_the_upload(reviewer_client):
    upload = reverse("upload")
    assert f'<a href="{upload}"><strong>Score a CSV file</strong></a>' in text(
        reviewer_client.get(reverse("admin:index"))
    )
    assert f'<a href="{upload}">Score a CSV file</a>' in text(
        reviewer_client.get(reverse("admin:predictor_prediction_changelist"))
    )
