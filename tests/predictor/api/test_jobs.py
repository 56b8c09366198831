"""The jobs' HTTP contract: POST /api/models/ (202, 409), POST /api/predictions/csv/ (a text/csv
body or a multipart file), /api/jobs/ (who sees what), retry and download."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from rest_framework.test import APIClient

from predictor import jobs
from predictor.models import Job, JobFile, JobKind, JobStatus, Prediction

JOB_KEYS = {
    "id", "kind", "status", "stage", "progress", "requested_by", "created", "started",
    "finished", "heartbeat", "params", "result", "error", "retry_of", "url",
}  # fmt: skip
GOOD_CSV = b"id,text\n1,Forest fire near La Ronge Sask. Canada\n2,What a lovely day\n"


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def trainer(django_user_model):
    """Staff allowed to add model versions: may start a training."""
    user = django_user_model.objects.create_user("tara", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="add_modelversion"))
    return user


@pytest.fixture
def trainer_api(trainer) -> APIClient:
    return client_for(trainer)


@pytest.fixture
def plain_user(django_user_model):
    return django_user_model.objects.create_user("pat")


def csv_post(client: APIClient, data: bytes = GOOD_CSV):
    return client.generic("POST", "/api/predictions/csv/", data, content_type="text/csv")


def failed_job(*, kind: str = JobKind.CSV_SCORING, user=None) -> Job:
    """A job whose worker died: running with a heartbeat long gone, then reaped."""
    job = (
        jobs.job_training_enqueue(user=user)
        if kind == JobKind.TRAINING
        else jobs.job_csv_enqueue(user=user, upload=io.BytesIO(GOOD_CSV))
    )
    long_ago = timezone.now() - timedelta(hours=1)
    Job.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, heartbeat=long_ago)
    assert jobs.jobs_reap_stale() == [job.pk]
    job.refresh_from_db()
    return job


# POST /api/models/ ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_training_request_is_accepted_with_the_job_and_its_address(trainer_api, trainer):
    response = trainer_api.post("/api/models/")

    assert response.status_code == 202, response.content
    body = response.json()
    assert set(body) == JOB_KEYS
    job = Job.objects.get()
    assert body["id"] == job.pk
    assert (body["kind"], body["status"], body["progress"]) == ("training", "queued", 0)
    assert body["requested_by"] == "tara"
    assert body["url"] == f"http://testserver/api/jobs/{job.pk}/"
    assert response["Location"] == body["url"]
    assert (body["result"], body["error"], body["retry_of"]) == (None, "", None)


@pytest.mark.django_db
def test_only_staff_allowed_to_add_versions_may_start_a_training(
    api, reviewer_api, django_user_model
):
    outsider = django_user_model.objects.create_user("olga")
    outsider.user_permissions.add(Permission.objects.get(codename="add_modelversion"))

    assert api.post("/api/models/").status_code == 401
    assert reviewer_api.post("/api/models/").status_code == 403
    assert client_for(outsider).post("/api/models/").status_code == 403
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_a_second_training_is_409_with_the_address_of_the_first(trainer_api, admin_client):
    first = trainer_api.post("/api/models/").json()

    response = trainer_api.post("/api/models/")

    assert response.status_code == 409
    body = response.json()
    assert body["job"] == {"id": first["id"], "status": "queued", "url": first["url"]}
    assert f"job {first['id']}" in body["detail"]
    assert response["Location"] == first["url"]
    assert Job.objects.count() == 1


# POST /api/predictions/csv/ ------------------------------------------------------------------


@pytest.mark.django_db
def test_a_csv_body_is_accepted_as_a_job(reviewer_api):
    response = csv_post(reviewer_api)

    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["kind"], body["status"], body["requested_by"]) == ("csv_scoring", "queued", "rita")
    assert body["params"] == {"filename": "upload.csv", "bytes": len(GOOD_CSV)}
    assert response["Location"] == body["url"]
    assert bytes(JobFile.objects.get(job_id=body["id"]).data) == GOOD_CSV


@pytest.mark.django_db
def test_a_multipart_file_is_accepted_as_a_job(reviewer_api):
    upload = SimpleUploadedFile("my tweets.csv", GOOD_CSV, content_type="text/csv")

    response = reviewer_api.post("/api/predictions/csv/", {"file": upload}, format="multipart")

    assert response.status_code == 202, response.content
    assert response.json()["params"] == {"filename": "my tweets.csv", "bytes": len(GOOD_CSV)}
    assert bytes(JobFile.objects.get().data) == GOOD_CSV


@pytest.mark.django_db
def test_csv_scoring_is_for_staff(api, plain_user):
    assert csv_post(api).status_code == 401
    assert csv_post(client_for(plain_user)).status_code == 403
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_a_body_of_another_type_is_415(reviewer_api):
    response = reviewer_api.post("/api/predictions/csv/", {"text": "Fire"}, format="json")
    assert response.status_code == 415
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_a_multipart_body_without_the_file_is_400_naming_the_field(reviewer_api):
    response = reviewer_api.post("/api/predictions/csv/", {"other": "x"}, format="multipart")
    assert response.status_code == 400
    assert list(response.json()) == ["file"]
    response = reviewer_api.post(
        "/api/predictions/csv/", {"file": "not a file"}, format="multipart"
    )
    assert response.status_code == 400
    assert list(response.json()) == ["file"]
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_an_empty_csv_body_is_a_job_not_a_missing_multipart_field(reviewer_api):
    response = csv_post(reviewer_api, b"")

    assert response.status_code == 202, response.content
    assert response.json()["params"]["bytes"] == 0


@pytest.mark.django_db
def test_a_csv_body_over_the_limit_is_a_failed_job_naming_the_line(reviewer_api, settings):
    settings.CSV_MAX_BYTES = 40

    response = csv_post(reviewer_api)

    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "failed"
    assert body["error"].startswith("line 2: the file is larger than the limit of 40 bytes")
    assert not JobFile.objects.exists()


# GET /api/jobs/ and /api/jobs/{id}/ -------------------------------------------------------------


@pytest.mark.django_db
def test_users_see_their_own_jobs_and_staff_see_every_job(plain_user, django_user_model, reviewer):
    other = django_user_model.objects.create_user("oscar")
    mine = Job.objects.create(kind=JobKind.CSV_SCORING, requested_by=plain_user)
    theirs = Job.objects.create(kind=JobKind.CSV_SCORING, requested_by=other)
    staffs = Job.objects.create(kind=JobKind.TRAINING, requested_by=reviewer)
    me = client_for(plain_user)

    listed = me.get("/api/jobs/").json()
    assert [job["id"] for job in listed["results"]] == [mine.pk]
    assert me.get(f"/api/jobs/{mine.pk}/").status_code == 200
    assert me.get(f"/api/jobs/{theirs.pk}/").status_code == 404
    assert me.get(f"/api/jobs/{staffs.pk}/").status_code == 404
    everyone = client_for(reviewer).get("/api/jobs/").json()
    assert [job["id"] for job in everyone["results"]] == [staffs.pk, theirs.pk, mine.pk]
    assert client_for(reviewer).get(f"/api/jobs/{theirs.pk}/").status_code == 200


@pytest.mark.django_db
def test_the_job_list_needs_a_sign_in(api):
    assert api.get("/api/jobs/").status_code == 401


@pytest.mark.django_db
def test_the_job_list_reads_a_page_in_a_fixed_number_of_queries(
    reviewer_api, reviewer, django_assert_max_num_queries
):
    for n in range(20):
        Job.objects.create(kind=JobKind.CSV_SCORING, requested_by=reviewer, params={"n": n})
    # The stale sweep, the count, the page (with its requesters), the session's user.
    with django_assert_max_num_queries(6):
        response = reviewer_api.get("/api/jobs/")
    assert response.json()["count"] == 20
    assert response.json()["results"][0]["params"] == {"n": 19}


@pytest.mark.django_db
def test_reading_a_job_fails_it_if_its_worker_died(reviewer_api):
    job = jobs.job_csv_enqueue(user=None, upload=io.BytesIO(GOOD_CSV))
    long_ago = timezone.now() - timedelta(minutes=5)
    Job.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, heartbeat=long_ago)

    body = reviewer_api.get(f"/api/jobs/{job.pk}/").json()

    assert body["status"] == "failed"
    assert body["error"].startswith("The worker stopped answering")


# Download ------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_answer_downloads_once_the_job_finished(reviewer, make_version):
    make_version("v1")
    client = client_for(reviewer)
    upload = SimpleUploadedFile('tweets "final" \u00e9t\u00e9.csv', GOOD_CSV)
    job = client.post("/api/predictions/csv/", {"file": upload}, format="multipart").json()

    before = client.get(f"/api/jobs/{job['id']}/download/")
    assert before.status_code == 404
    assert before.json()["detail"] == "This job has no answer file (it is queued)."

    jobs.job_execute(job_id=job["id"])

    done = client.get(job["url"]).json()
    assert done["status"] == "succeeded", done["error"]
    download = done["result"]["download"]
    assert download == f"http://testserver/api/jobs/{job['id']}/download/"
    response = client.get(download)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        "attachment; filename*=utf-8''tweets%20%22final%22%20%C3%A9t%C3%A9-scored.csv"
    )
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [row["id"] for row in rows] == ["1", "2"]
    assert [int(row["prediction_id"]) for row in rows] == list(
        Prediction.objects.order_by("pk").values_list("pk", flat=True)
    )


@pytest.mark.django_db
def test_another_users_answer_is_not_found(plain_user, django_user_model):
    other = django_user_model.objects.create_user("oscar")
    job = Job.objects.create(kind=JobKind.CSV_SCORING, requested_by=other)
    JobFile.objects.create(job=job, role=JobFile.Role.RESULT, name="a.csv", size=1, data=b"x")
    assert client_for(plain_user).get(f"/api/jobs/{job.pk}/download/").status_code == 404
    assert client_for(other).get(f"/api/jobs/{job.pk}/download/").status_code == 200


# Retry ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_failed_job_is_retried_as_a_new_job(reviewer_api, reviewer):
    job = failed_job(user=reviewer)

    response = reviewer_api.post(f"/api/jobs/{job.pk}/retry/")

    assert response.status_code == 202, response.content
    body = response.json()
    assert body["retry_of"] == job.pk
    assert body["id"] != job.pk
    assert (body["status"], body["kind"]) == ("queued", "csv_scoring")
    assert response["Location"] == body["url"]


@pytest.mark.django_db
def test_a_job_that_did_not_fail_cannot_be_retried(reviewer_api, reviewer):
    job = Job.objects.create(
        kind=JobKind.CSV_SCORING, requested_by=reviewer, status=JobStatus.SUCCEEDED
    )

    response = reviewer_api.post(f"/api/jobs/{job.pk}/retry/")

    # A conflict with the job's state, naming the job (the same shape as a second training's).
    assert response.status_code == 409
    assert response.json() == {
        "detail": "Only a failed job can be started again; this one is succeeded.",
        "job": {
            "id": job.pk,
            "status": "succeeded",
            "url": f"http://testserver/api/jobs/{job.pk}/",
        },
    }
    assert Job.objects.count() == 1


@pytest.mark.django_db
def test_retrying_a_training_needs_the_right_to_train(reviewer_api, trainer_api):
    job = failed_job(kind=JobKind.TRAINING)

    assert reviewer_api.post(f"/api/jobs/{job.pk}/retry/").status_code == 403
    assert Job.objects.count() == 1
    response = trainer_api.post(f"/api/jobs/{job.pk}/retry/")
    assert response.status_code == 202
    assert response.json()["retry_of"] == job.pk
    conflict = trainer_api.post(f"/api/jobs/{job.pk}/retry/")
    assert conflict.status_code == 409
    assert conflict.json()["job"]["id"] == response.json()["id"]


@pytest.mark.django_db
def test_a_user_no_longer_staff_cannot_retry_a_csv_job(plain_user):
    job = failed_job(user=plain_user)
    response = client_for(plain_user).post(f"/api/jobs/{job.pk}/retry/")
    assert response.status_code == 403
    assert Job.objects.count() == 1
