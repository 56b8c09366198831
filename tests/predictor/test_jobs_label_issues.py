"""The label check as a background job: queued from the admin, run by django-tasks' own worker,
its result on the job's page with a link to the flagged reviews; failing readably; retried."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from predictor import jobs
from predictor.models import Job, JobKind, JobStatus, Label, LabelSuspicion
from tests.predictor.test_jobs import run_queue, task_of
from tests.predictor.test_services_label_issues import write_base


@pytest.fixture
def base_data(settings, tmp_path):
    """The check's base data: TRAIN_DATA, as a deployment configures it."""
    path = tmp_path / "base.csv"
    lines = write_base(path, rows=150)
    settings.TRAIN_DATA = str(path)
    return path, lines


@pytest.mark.django_db(transaction=True)
def test_a_label_check_run_by_the_queue_s_worker_stores_its_rows(
    base_data, make_prediction, reviewer, client
):
    _, lines = base_data
    reviewed = make_prediction(
        "Flood warning, river over its banks", true_label=Label.DISASTER, reviewed_by=reviewer
    )
    client.force_login(reviewer)
    page = client.post(reverse("admin:predictor_prediction_check_labels"))
    job = Job.objects.get(kind=JobKind.LABEL_ISSUES)
    assert page["Location"] == reverse("job", args=[job.pk])

    run_queue()

    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert (job.stage, job.progress) == ("done", 100)
    assert (job.result["base_rows"], job.result["reviewed_rows"]) == (len(lines), 1)
    assert job.result["rows"] == LabelSuspicion.objects.count() == len(lines) + 1
    assert job.result["folds"] == 5 and job.result["data_file"] == "base.csv"
    assert LabelSuspicion.objects.filter(prediction=reviewed).exists()
    assert task_of(job).status == "SUCCESSFUL"

    html = client.get(reverse("job", args=[job.pk])).content.decode()
    assert f"{len(lines) + 1:,} labels checked" in html
    assert "Reviews that look wrong" in html and "Base rows that look wrong" in html
    changelist = reverse("admin:predictor_prediction_changelist")
    assert f'href="{changelist}?label_wrong=yes&amp;o=-' in html
    # The link's ordering is the suspicion column, descending.
    link = html.split(f'href="{changelist}?label_wrong=yes&amp;o=-')[1].split('"')[0]
    listing = client.get(changelist, {"label_wrong": "yes", "o": f"-{link}"})
    assert listing.context["cl"].list_display[int(link)] == "suspicion_display"


@pytest.mark.django_db(transaction=True)
def test_a_label_check_on_a_missing_file_fails_readably_and_keeps_the_last_check(
    settings, tmp_path, reviewer
):
    settings.TRAIN_DATA = str(tmp_path / "gone.csv")
    job = jobs.job_label_issues_enqueue(user=reviewer)

    run_queue()

    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.error == f"no such file: {tmp_path / 'gone.csv'}"
    assert not LabelSuspicion.objects.exists()


@pytest.mark.django_db
def test_a_failed_label_check_is_started_again_by_who_may_check_labels(
    reviewer, django_user_model, client
):
    failed = Job.objects.create(
        kind=JobKind.LABEL_ISSUES, status=JobStatus.FAILED, requested_by=reviewer, error="x"
    )
    api = APIClient()
    api.force_authenticate(reviewer)

    response = api.post(f"/api/jobs/{failed.pk}/retry/")

    assert response.status_code == 202, response.content
    retry = Job.objects.get(retry_of=failed)
    assert (retry.kind, retry.status) == (JobKind.LABEL_ISSUES, JobStatus.QUEUED)
    assert response.json()["retry_of"] == failed.pk
    # Staff without the right to relabel may not (API and page).
    outsider = APIClient()
    outsider.force_authenticate(django_user_model.objects.create_user("sam", is_staff=True))
    assert outsider.post(f"/api/jobs/{failed.pk}/retry/").status_code == 403
    client.force_login(reviewer)
    assert "Start again" in client.get(reverse("job", args=[failed.pk])).content.decode()
