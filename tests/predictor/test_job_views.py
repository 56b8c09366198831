"""The site's pages for background jobs: the CSV upload (staff) and a job's page (whoever asked,
or staff) in each state, with its polling script, its result and its "Start again"."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from predictor import jobs
from predictor.models import Job, JobFile, JobKind, JobStatus, ModelVersion, Prediction
from tests.predictor.test_admin_views import assert_no_inline_code

pytestmark = pytest.mark.django_db

UPLOAD = reverse("upload")
CSV_FILE = (
    b"id,text,keyword\n"
    b"1,Forest fire near La Ronge Sask. Canada,wildfire\n"
    b"2,What a lovely sunny day in the park,\n"
)


def job_page(job: Job) -> str:
    return reverse("job", args=[job.pk])


def retry_url(job: Job) -> str:
    return reverse("job-retry", args=[job.pk])


def text(response) -> str:
    """The page's HTML with runs of white space as one space."""
    return " ".join(response.content.decode().split())


def upload(name: str, data: bytes) -> io.BytesIO:
    file = io.BytesIO(data)
    file.name = name
    return file


def make_job(user, *, kind: str = JobKind.CSV_SCORING, input_file: bool = True, **fields) -> Job:
    """A job row in the given state, as the worker would have left it (no task, no worker)."""
    job = Job.objects.create(
        kind=kind, requested_by=user, params={"filename": "tweets.csv", "bytes": 90}, **fields
    )
    if input_file and kind == JobKind.CSV_SCORING:
        JobFile.objects.create(
            job=job, role=JobFile.Role.INPUT, name="tweets.csv", size=len(CSV_FILE), data=CSV_FILE
        )
    return job


@pytest.fixture
def trainer(django_user_model):
    """Staff who may view and add model versions (the permission to train)."""
    user = django_user_model.objects.create_user("tess", password="train-pass-123", is_staff=True)
    user.user_permissions.add(
        Permission.objects.get(codename="view_modelversion"),
        Permission.objects.get(codename="add_modelversion"),
        Permission.objects.get(codename="view_job"),
    )
    return user


# --- the upload page --------------------------------------------------------------------------


def test_upload_sends_anonymous_visitors_to_the_login_page(client):
    response = client.get(UPLOAD)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('admin:login')}?next={UPLOAD}"
    assert client.post(UPLOAD, {"file": upload("a.csv", CSV_FILE)}).status_code == 302
    assert Job.objects.count() == 0


def test_upload_is_forbidden_to_users_who_are_not_staff(plain_client):
    assert plain_client.get(UPLOAD).status_code == 403
    assert plain_client.post(UPLOAD, {"file": upload("a.csv", CSV_FILE)}).status_code == 403
    assert Job.objects.count() == 0


def test_upload_page_states_the_limits_and_the_columns(reviewer_client, settings):
    settings.CSV_MAX_BYTES = 5 * 1024 * 1024
    settings.CSV_MAX_ROWS = 12_345
    response = reviewer_client.get(UPLOAD)
    assert response.status_code == 200
    page = text(response)
    assert "5.0 MB" in page and "12,345 rows" in page
    for column in ("text", "keyword", "location", "prediction_id", "label", "probability"):
        assert f"<code>{column}</code>" in page
    assert 'enctype="multipart/form-data"' in page
    assert 'accept=".csv,text/csv"' in page
    assert '<label for="id_file">' in page
    assert 'aria-describedby="id_file_helptext"' in page
    assert 'name="csrfmiddlewaretoken"' in page
    assert_no_inline_code(response.content.decode())


def test_upload_queues_a_job_with_the_file_and_goes_to_its_page(reviewer_client, reviewer):
    response = reviewer_client.post(UPLOAD, {"file": upload("tweets.csv", CSV_FILE)})
    job = Job.objects.get()
    assert response.status_code == 302
    assert response["Location"] == job_page(job)
    assert (job.kind, job.status, job.requested_by) == ("csv_scoring", "queued", reviewer)
    assert job.params == {"filename": "tweets.csv", "bytes": len(CSV_FILE)}
    assert job.task_id
    stored = JobFile.objects.get(job=job)
    assert (stored.role, stored.name, bytes(stored.data)) == ("input", "tweets.csv", CSV_FILE)


def test_upload_without_a_file_is_400_with_the_error_beside_the_field(reviewer_client):
    response = reviewer_client.post(UPLOAD, {})
    assert response.status_code == 400
    assert 'id="id_file_error"' in response.content.decode()
    empty = reviewer_client.post(UPLOAD, {"file": upload("empty.csv", b"")})
    assert empty.status_code == 400
    assert "The submitted file is empty." in text(empty)
    assert Job.objects.count() == 0


def test_a_file_over_the_size_limit_fails_at_once_and_cannot_be_started_again(
    reviewer_client, settings
):
    settings.CSV_MAX_BYTES = 60
    response = reviewer_client.post(UPLOAD, {"file": upload("big.csv", CSV_FILE)}, follow=True)
    job = Job.objects.get()
    assert job.status == "failed"
    page = text(response)
    assert "The job failed" in page
    assert "larger than the limit of 60 bytes" in page
    assert "Start again" not in page
    assert JobFile.objects.count() == 0


def test_the_upload_needs_a_csrf_token(reviewer):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(reviewer)
    assert strict.post(UPLOAD, {"file": upload("a.csv", CSV_FILE)}).status_code == 403
    assert Job.objects.count() == 0


def test_staff_see_the_upload_link_in_the_site_navigation(client, reviewer):
    assert UPLOAD not in client.get("/").content.decode()
    client.force_login(reviewer)
    assert f'<a href="{UPLOAD}">Score a CSV file</a>' in client.get("/").content.decode()


# --- who sees a job ---------------------------------------------------------------------------


def test_a_job_page_sends_anonymous_visitors_to_the_login_page(client, reviewer):
    job = make_job(reviewer)
    response = client.get(job_page(job))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_a_job_is_seen_by_whoever_asked_and_by_staff_and_is_404_to_others(
    client, django_user_model, reviewer
):
    owner = django_user_model.objects.create_user("olga", password="owner-pass-123")
    other = django_user_model.objects.create_user("oscar", password="other-pass-123")
    job = make_job(owner)
    for user, status in ((owner, 200), (reviewer, 200), (other, 404)):
        client.force_login(user)
        assert client.get(job_page(job)).status_code == status, user
    assert client.get(reverse("job", args=[job.pk + 1000])).status_code == 404


# --- a job's states ---------------------------------------------------------------------------


def test_a_queued_job_shows_it_waits_and_loads_the_polling_script(reviewer_client, reviewer):
    job = make_job(reviewer)
    response = reviewer_client.get(job_page(job))
    html = response.content.decode()
    page = text(response)
    assert 'Status: <span id="job-status">Queued</span>' in page
    assert '<progress id="job-bar" max="100" value="0">0%</progress>' in page
    assert '<label for="job-bar">Progress</label>' in page
    assert 'aria-live="polite"' in page
    assert "waiting for a worker" in page
    assert f'data-job-api="/api/jobs/{job.pk}/"' in page
    assert re.search(r'<script src="[^"]*js/job-progress\.js" defer>', html)
    assert f'<a href="{job_page(job)}" id="job-refresh">Refresh</a>' in page
    assert "tweets.csv" in page
    assert_no_inline_code(html)


def test_a_running_job_shows_its_stage_progress_and_heartbeat(reviewer_client, reviewer):
    now = timezone.now()
    job = make_job(
        reviewer,
        kind=JobKind.TRAINING,
        status=JobStatus.RUNNING,
        stage="training",
        progress=40,
        started=now,
        heartbeat=now,
    )
    page = text(reviewer_client.get(job_page(job)))
    assert "Training job #" in page
    assert '<progress id="job-bar" max="100" value="40">40%</progress>' in page
    assert '<span id="job-stage">training</span>: <span id="job-percent">40%</span>' in page
    assert 'id="job-heartbeat"' in page
    assert "Refresh" in page


def test_a_job_whose_worker_died_reads_as_failed(reviewer_client, reviewer, settings):
    settings.JOB_STALE_SECONDS = 1
    long_ago = timezone.now() - timedelta(seconds=30)
    job = make_job(
        reviewer, status=JobStatus.RUNNING, stage="scoring", started=long_ago, heartbeat=long_ago
    )
    page = text(reviewer_client.get(job_page(job)))
    assert "The job failed" in page
    assert "The worker stopped answering" in page
    assert "job-progress.js" not in page


def test_a_failed_csv_job_shows_the_error_and_starts_again(reviewer_client, reviewer):
    job = make_job(
        reviewer,
        status=JobStatus.FAILED,
        finished=timezone.now(),
        error="line 3: 2 fields where the header has 3",
    )
    response = reviewer_client.get(job_page(job))
    page = text(response)
    assert "line 3: 2 fields where the header has 3" in page
    assert "Nothing from this file was stored." in page
    assert f'<form method="post" action="{retry_url(job)}">' in page
    assert "job-progress.js" not in page and "Refresh" not in page

    response = reviewer_client.post(retry_url(job), follow=True)
    retry = Job.objects.exclude(pk=job.pk).get()
    assert response.redirect_chain == [(job_page(retry), 302)]
    assert (retry.status, retry.retry_of, retry.requested_by) == ("queued", job, reviewer)
    assert bytes(JobFile.objects.get(job=retry).data) == CSV_FILE
    page = text(response)
    assert f"Job #{job.pk} started again as job #{retry.pk}." in page
    assert f'A new start of <a href="{job_page(job)}">job #{job.pk}</a>' in page
    # The failed job's page now says it was started again.
    assert f'<a href="{job_page(retry)}">job #{retry.pk}</a> (queued)' in text(
        reviewer_client.get(job_page(job))
    )


def test_only_a_failed_job_can_be_started_again(reviewer_client, reviewer):
    job = make_job(reviewer)
    assert reviewer_client.post(retry_url(job)).status_code == 403
    assert reviewer_client.get(retry_url(job)).status_code == 405
    assert Job.objects.count() == 1


def test_a_failed_training_is_started_again_only_with_the_permission_to_train(
    client, reviewer, trainer
):
    job = make_job(trainer, kind=JobKind.TRAINING, status=JobStatus.FAILED, error="no heartbeat")
    client.force_login(reviewer)  # staff: sees the job, but may not train
    page = text(client.get(job_page(job)))
    assert "no heartbeat" in page and "the active version is unchanged" in page
    assert "Start again" not in page
    assert client.post(retry_url(job)).status_code == 403

    client.force_login(trainer)
    assert "Start again" in text(client.get(job_page(job)))
    response = client.post(retry_url(job))
    retry = Job.objects.get(retry_of=job)
    assert response["Location"] == job_page(retry)
    assert (retry.kind, retry.status) == ("training", "queued")


def test_starting_a_training_again_while_one_is_queued_goes_to_that_one(client, trainer):
    failed = make_job(trainer, kind=JobKind.TRAINING, status=JobStatus.FAILED, error="stopped")
    queued = jobs.job_training_enqueue(user=trainer)
    client.force_login(trainer)
    response = client.post(retry_url(failed), follow=True)
    assert response.redirect_chain == [(job_page(queued), 302)]
    assert f"A training is already queued: job #{queued.pk}" in text(response)
    assert Job.objects.count() == 2


def test_a_succeeded_training_from_rows_shows_the_gates_report(client, trainer, make_version):
    version = make_version("v2", activate=False)
    comparison = {
        "n": 400,
        "candidate": {"f1": 0.81, "precision": 0.8, "recall": 0.82, "accuracy": 0.84},
        "active": {"f1": 0.79, "precision": 0.78, "recall": 0.8, "accuracy": 0.83},
        "delta_f1": 0.02,
        "delta_f1_low": -0.01,
        "delta_f1_high": 0.05,
        "active_only_correct": 10,
        "candidate_only_correct": 17,
        "mcnemar_p": 0.248,
        "verdict": "refuse",
        "reason": "ΔF1's interval includes zero",
    }
    result = {
        "version": "v2",
        "activated": False,
        "decision": "refused",
        "reason": "refuse: ΔF1's interval includes zero",
        "active_version": "v1",
        "comparison": comparison,
        "evaluation_set": {"set": "ab" * 32, "n": 400, "base_rows": 380, "audit_rows": 20},
        "rows": {"trained_on": 7000, "feedback": 120},
        "candidate": {"f1": 0.81},
        "validation": {"f1": 0.8},
        "threshold": 0.41,
        "train_seconds": 12.34,
    }
    finished = timezone.now()
    job = make_job(
        trainer,
        kind=JobKind.TRAINING,
        status=JobStatus.SUCCEEDED,
        progress=100,
        result=result,
        started=finished - timedelta(seconds=75),
        finished=finished,
    )
    client.force_login(trainer)
    page = text(client.get(job_page(job)))
    assert "(after 1 min 15 s)" in page
    assert "v2 stored (not active)" in page
    assert escape("refuse: ΔF1's interval includes zero") in page
    assert "<td>0.810</td><td>0.790</td>" in page
    assert "+0.020 (95% interval -0.010 to +0.050)" in page
    assert "7,000 rows (120 from reviews)" in page
    assert "12.3 s" in page
    compare = reverse("admin:predictor_modelversion_compare", args=[version.pk])
    assert f'<a href="{compare}">' in page


@pytest.mark.django_db(transaction=True)
def test_a_training_run_in_process_ends_with_the_gates_report(
    client, trainer, active_version, settings
):
    settings.TRAIN_DATA = str(settings.SAMPLE_TRAIN_DATA)  # seconds, not minutes
    job = jobs.job_training_enqueue(user=trainer)
    jobs.job_execute(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    version = ModelVersion.objects.get(name=job.result["version"])
    client.force_login(trainer)
    response = client.get(job_page(job))
    page = text(response)
    assert 'Status: <span id="job-status">Succeeded</span>' in page
    assert '<progress id="job-bar" max="100" value="100">100%</progress>' in page
    state = "activated" if version.is_active else "stored (not active)"
    assert f"{version.name} {state}" in page
    assert escape(job.result["reason"]) in page
    assert "Compared with</dt><dd>v1</dd>" in page
    assert "job-progress.js" not in page


@pytest.mark.django_db(transaction=True)
def test_a_csv_job_run_in_process_shows_the_counts_and_the_download(
    reviewer_client, reviewer, active_version
):
    reviewer_client.post(UPLOAD, {"file": upload("tweets.csv", CSV_FILE)})
    job = Job.objects.get()
    jobs.job_execute(job_id=job.pk)
    response = reviewer_client.get(job_page(job))
    page = text(response)
    stored = Prediction.objects.filter(job=job)
    disasters = stored.filter(predicted_label="disaster").count()
    assert "2 rows scored" in page
    assert f"<dt>Disaster</dt><dd>{disasters}</dd>" in page
    assert f"<dt>Not a disaster</dt><dd>{2 - disasters}</dd>" in page
    download = reverse("api:job-download", args=[job.pk])
    assert f'<a href="{download}" download>Download tweets-scored.csv</a>' in page

    answer = reviewer_client.get(download)
    assert answer.status_code == 200
    rows = list(csv.DictReader(io.StringIO(answer.content.decode())))
    assert [row["id"] for row in rows] == ["1", "2"]
    assert {int(row["prediction_id"]) for row in rows} == set(stored.values_list("pk", flat=True))
