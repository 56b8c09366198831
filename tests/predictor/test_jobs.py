"""The job lifecycle: queueing (a real task row in django-tasks' database queue), running in this
process as the worker would, failing, reaping jobs whose worker died, and retrying."""

from __future__ import annotations

import contextlib
import io
import os
import threading
import time
from datetime import timedelta

import pytest
from django.db import OperationalError, connection
from django.utils import timezone
from django_tasks.base import TaskResultStatus
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from predictor import jobs
from predictor.errors import JobNotRetryable, TrainingAlreadyQueued
from predictor.models import (
    Job,
    JobFile,
    JobKind,
    JobStatus,
    ModelActivation,
    ModelVersion,
    Prediction,
    Source,
)
from predictor.prediction_store import predictions_insert_for_job
from predictor.tweets import Tweet
from tests.conftest import reviewers_group

GOOD_CSV = b"id,text,keyword\n1,Forest fire near La Ronge Sask. Canada,wildfire\n2,What a day,\n"


@pytest.fixture
def models_dir(settings, tmp_path):
    """A model directory of this test's own: the orphan sweep looks at every file in it."""
    settings.MODELS_DIR = tmp_path / "models"
    settings.MODELS_DIR.mkdir()
    return settings.MODELS_DIR


@pytest.fixture
def sample_training(settings, models_dir):
    """Trainings read the small bundled sample (fast) instead of TRAIN_DATA."""
    settings.TRAIN_DATA = ""


def task_of(job: Job) -> DBTaskResult:
    return DBTaskResult.objects.get(id=job.task_id)


def csv_enqueue(user=None, data: bytes = GOOD_CSV, filename: str = "tweets.csv") -> Job:
    return jobs.job_csv_enqueue(user=user, upload=io.BytesIO(data), filename=filename)


def run_queue() -> None:
    """django-tasks-db's own worker loop, in this process: every ready task, then stop."""
    Worker(
        queue_names=["default"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="test-worker",
        excluded_queue_names=[],
    ).run()


# Queueing ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_training_is_queued_with_a_real_task(admin_user):
    job = jobs.job_training_enqueue(user=admin_user)

    job.refresh_from_db()
    assert (job.kind, job.status, job.stage, job.progress) == ("training", "queued", "queued", 0)
    assert job.requested_by == admin_user
    task = task_of(job)
    assert task.status == TaskResultStatus.READY
    assert task.task_path == "predictor.tasks.job_run"
    assert task.args_kwargs == {"args": [job.pk], "kwargs": {}}


@pytest.mark.django_db
def test_a_second_training_is_refused_naming_the_first_until_it_finished(admin_user):
    first = jobs.job_training_enqueue(user=admin_user)
    with pytest.raises(TrainingAlreadyQueued) as refused:
        jobs.job_training_enqueue(user=None)
    assert refused.value.job.pk == first.pk
    assert Job.objects.count() == DBTaskResult.objects.count() == 1

    Job.objects.filter(pk=first.pk).update(status=JobStatus.RUNNING)
    with pytest.raises(TrainingAlreadyQueued):
        jobs.job_training_enqueue(user=None)

    Job.objects.filter(pk=first.pk).update(status=JobStatus.SUCCEEDED)
    second = jobs.job_training_enqueue(user=None)
    assert second.pk != first.pk
    assert DBTaskResult.objects.count() == 2


@pytest.mark.django_db
def test_a_csv_file_is_stored_with_its_job_and_queued(admin_user):
    job = csv_enqueue(admin_user, filename="../../etc/tweets.csv")

    assert job.status == JobStatus.QUEUED
    assert job.params == {"filename": "tweets.csv", "bytes": len(GOOD_CSV)}
    stored = JobFile.objects.get(job=job)
    assert (stored.role, stored.name, stored.size) == ("input", "tweets.csv", len(GOOD_CSV))
    assert bytes(stored.data) == GOOD_CSV
    assert task_of(job).args_kwargs["args"] == [job.pk]


@pytest.mark.django_db
def test_a_csv_file_over_the_size_limit_fails_at_once_naming_the_line(settings, admin_user):
    settings.CSV_MAX_BYTES = 30
    data = b"text\nFire one\nFire two\nFire three\nFire four\n"  # byte 30 is on line 4

    job = csv_enqueue(admin_user, data)

    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.finished is not None
    assert job.error.startswith("line 4: the file is larger than the limit of 30 bytes")
    assert "CSV_MAX_BYTES" in job.error
    assert not JobFile.objects.exists()
    assert not DBTaskResult.objects.exists()


@pytest.mark.django_db
def test_a_csv_file_at_the_size_limit_is_taken(settings):
    settings.CSV_MAX_BYTES = len(GOOD_CSV)
    assert csv_enqueue().status == JobStatus.QUEUED


# Running -------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_training_job_trains_records_the_gate_and_who_asked(
    sample_training, models_dir, admin_user
):
    job = jobs.job_training_enqueue(user=admin_user)

    jobs.job_execute(job_id=job.pk)

    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert (job.stage, job.progress, job.error) == ("done", 100, "")
    assert job.created <= job.started <= job.heartbeat
    assert job.started <= job.finished
    version = ModelVersion.objects.get()
    assert job.result["version"] == version.name == "v1"
    assert job.result["activated"] is True
    assert job.result["decision"] == "first version"
    assert job.result["reason"]
    assert job.result["threshold"] == version.threshold
    activation = ModelActivation.objects.get()
    assert (activation.version, activation.user, activation.via) == (version, admin_user, "job")
    assert [path.name for path in models_dir.iterdir()] == [version.artifact_path]


@pytest.mark.django_db(transaction=True)
def test_a_training_job_on_unusable_data_fails_saying_why(settings, models_dir, tmp_path):
    settings.TRAIN_DATA = str(tmp_path / "tiny.csv")
    (tmp_path / "tiny.csv").write_text("id,keyword,location,text,target\n1,,,Fire,1\n")
    job = jobs.job_training_enqueue(user=None)

    jobs.job_execute(job_id=job.pk)

    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.error and "unexpected" not in job.error
    assert job.finished is not None
    assert not ModelVersion.objects.exists()
    assert not list(models_dir.iterdir())
    # Finished: another training may be queued.
    assert jobs.job_training_enqueue(user=None).status == JobStatus.QUEUED


@pytest.mark.django_db(transaction=True)
def test_a_csv_job_run_by_the_queue_s_worker_scores_the_file(make_version, admin_user):
    make_version("v1")
    job = csv_enqueue(admin_user)

    run_queue()

    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert (job.stage, job.progress) == ("done", 100)
    assert job.result["rows"] == 2
    assert job.result["labels"]["disaster"] + job.result["labels"]["not_disaster"] == 2
    assert job.result["download"] == f"/api/jobs/{job.pk}/download/"
    assert Prediction.objects.filter(job=job, source=Source.CSV).count() == 2
    answer = JobFile.objects.get(job=job, role=JobFile.Role.RESULT)
    assert bytes(answer.data).decode().splitlines()[0] == (
        "id,text,keyword,prediction_id,label,probability,model_version"
    )
    assert task_of(job).status == TaskResultStatus.SUCCESSFUL


@pytest.mark.django_db(transaction=True)
def test_a_bad_csv_job_fails_naming_the_line_and_keeps_nothing(make_version):
    make_version("v1")
    job = csv_enqueue(data=b"text\nFire downtown\n\xff\xfe\n")

    run_queue()

    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.error.startswith("line 3: the file is not UTF-8 text")
    assert job.finished is not None
    assert not Prediction.objects.exists()
    assert not JobFile.objects.filter(role=JobFile.Role.RESULT).exists()
    # The job failed, the task did its work: the queue records it as done.
    assert task_of(job).status == TaskResultStatus.SUCCESSFUL


@pytest.mark.django_db(transaction=True)
def test_a_running_job_shows_its_stage_progress_and_heartbeat(make_version, settings):
    """What a page polling the job sees while it runs: written by the heartbeat thread."""
    make_version("v1")
    settings.JOB_HEARTBEAT_SECONDS = 0.05
    settings.CSV_CHUNK_ROWS = 100
    settings.CSV_SCORING_PROCESSES = 1
    rows = "".join(f"Flood warning number {n} for the valley\n" for n in range(3000))
    job = csv_enqueue(data=f"text\n{rows}".encode())
    seen: list[tuple[str, str, int, object]] = []
    done = threading.Event()

    def watch() -> None:
        if connection.vendor == "sqlite":
            # The test database is SQLite's shared in-memory one, where a reader holds a table
            # lock that makes a write fail at once ("database table is locked", no busy wait):
            # read without it, as a separate database file's reader would.
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA read_uncommitted = 1")
        try:
            while not done.is_set():
                # SQLite's shared in-memory test database is locked at times: read again.
                with contextlib.suppress(OperationalError):
                    fields = ("status", "stage", "progress", "heartbeat")
                    seen.append(Job.objects.values_list(*fields).get(pk=job.pk))
                time.sleep(0.01)
        finally:
            connection.close()

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        jobs.job_execute(job_id=job.pk)
    finally:
        done.set()
        watcher.join()

    running = [row for row in seen if row[0] == JobStatus.RUNNING]
    scoring = [progress for _, stage, progress, _ in running if stage == "scoring and storing"]
    assert scoring and min(scoring) >= 5 and max(scoring) <= 95
    assert len(set(scoring)) > 1
    assert len({beat for *_, beat in running}) > 1
    assert [progress for *_, progress, _ in seen] == sorted(progress for *_, progress, _ in seen)
    job.refresh_from_db()
    assert (job.status, job.stage, job.progress) == (JobStatus.SUCCEEDED, "done", 100)


@pytest.mark.django_db(transaction=True)
def test_a_job_that_is_not_queued_any_more_is_not_run_again(make_version):
    make_version("v1")
    job = csv_enqueue()
    jobs.job_execute(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED

    jobs.job_execute(job_id=job.pk)

    again = Job.objects.get(pk=job.pk)
    assert (again.started, again.finished, again.result) == (job.started, job.finished, job.result)
    assert Prediction.objects.count() == 2
    assert JobFile.objects.filter(role=JobFile.Role.RESULT).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_job_failed_as_stale_while_it_still_ran_keeps_nothing(make_version, settings):
    """Its worker was only slow (a stalled database, a paused machine): the job was failed and
    its output discarded meanwhile, so what it stores afterwards must go too."""
    make_version("v1")
    job = csv_enqueue()
    settings.JOB_STALE_SECONDS = -1  # every running job is stale: this one right after its claim

    jobs.job_execute(job_id=job.pk)

    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.error.startswith("The worker stopped answering")
    assert not Prediction.objects.exists()
    assert not JobFile.objects.filter(role=JobFile.Role.RESULT).exists()


@pytest.mark.django_db(transaction=True)
def test_a_training_failed_as_stale_that_still_finished_says_what_it_stored(
    sample_training, settings
):
    job = jobs.job_training_enqueue(user=None)
    settings.JOB_STALE_SECONDS = -1

    jobs.job_execute(job_id=job.pk)

    job.refresh_from_db()
    version = ModelVersion.objects.get()
    assert job.status == JobStatus.FAILED
    assert job.error.startswith("The worker stopped answering")
    assert job.error.endswith(
        "The training did finish afterwards: version v1 was stored and activated."
    )
    assert job.result["version"] == version.name
    assert version.is_active


# Reaping jobs whose worker died ---------------------------------------------------------------


def claimed_by_a_worker_that_died(job: Job, *, seconds_ago: float) -> Job:
    """`job` as a worker leaves it when killed: its task and the job running, no more beats."""
    task = task_of(job)
    task.claim("dead-worker")
    long_ago = timezone.now() - timedelta(seconds=seconds_ago)
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.RUNNING, started=long_ago, heartbeat=long_ago, stage="scoring", progress=40
    )
    return job


@pytest.mark.django_db
def test_a_running_job_without_a_heartbeat_is_failed_and_its_output_removed(make_version):
    version = make_version("v1", artifact=False)
    job = claimed_by_a_worker_that_died(csv_enqueue(), seconds_ago=61)
    predictions_insert_for_job(
        [Tweet("Fire", "", ""), Tweet("Flood", "", "")],
        [0.9, 0.1],
        version=version,
        source=Source.CSV,
        job=job,
    )
    JobFile.objects.create(job=job, role=JobFile.Role.RESULT, name="x.csv", size=1, data=b"x")
    other = Prediction.objects.create(
        text="kept", probability=0.5, threshold=0.5, predicted_label="disaster",
        model_version=version, source=Source.API,
    )  # fmt: skip

    assert jobs.jobs_reap_stale() == [job.pk]

    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.error == jobs.STALE_ERROR.format(seconds=60)
    assert "no heartbeat for 60 s" in job.error
    assert job.finished is not None
    assert list(Prediction.objects.all()) == [other]
    # The answer goes; the upload stays, so that the job can be started again.
    assert list(JobFile.objects.values_list("role", flat=True)) == ["input"]
    task = task_of(job)
    assert task.status == TaskResultStatus.FAILED
    assert task.finished_at is not None
    assert jobs.jobs_reap_stale() == []


@pytest.mark.django_db
def test_a_job_with_a_fresh_heartbeat_is_left_running():
    job = claimed_by_a_worker_that_died(csv_enqueue(), seconds_ago=50)

    assert jobs.jobs_reap_stale() == []

    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING
    assert task_of(job).status == TaskResultStatus.RUNNING


@pytest.mark.django_db
def test_a_dead_training_leaves_no_orphan_artifact(make_version, models_dir):
    version = make_version("v1")
    job = claimed_by_a_worker_that_died(jobs.job_training_enqueue(user=None), seconds_ago=120)
    old = time.time() - 120
    orphan, temporary, fresh = (models_dir / n for n in ("v2-x.joblib", "v2.tmp", "v3-y.joblib"))
    for path in (orphan, temporary, fresh):
        path.write_bytes(b"half written")
    for path in (orphan, temporary, models_dir / version.artifact_path):
        os.utime(path, (old, old))
    unrelated = models_dir / "notes.txt"
    unrelated.write_text("not an artifact")
    os.utime(unrelated, (old, old))

    assert jobs.jobs_reap_stale() == [job.pk]

    # The version's own file stays, and so does a file too young to be sure about (a training
    # writing it right now).
    assert sorted(p.name for p in models_dir.iterdir()) == sorted(
        [version.artifact_path, fresh.name, unrelated.name]
    )
    assert ModelVersion.objects.get().is_active
    # The training slot is free again.
    assert jobs.job_training_enqueue(user=None).status == JobStatus.QUEUED


def taken_by_a_worker_that_died_before_starting_it(job: Job, *, seconds_ago: float) -> Job:
    """`job` as a worker leaves it when it dies (or cannot reach the database) between taking
    the task from the queue and claiming the job."""
    task_of(job).claim("dead-worker")
    long_ago = timezone.now() - timedelta(seconds=seconds_ago)
    DBTaskResult.objects.filter(id=job.task_id).update(started_at=long_ago)
    Job.objects.filter(pk=job.pk).update(created=long_ago)
    return job


@pytest.mark.django_db
def test_a_queued_job_whose_task_was_taken_long_ago_is_failed():
    training = taken_by_a_worker_that_died_before_starting_it(
        jobs.job_training_enqueue(user=None), seconds_ago=61
    )
    scoring = taken_by_a_worker_that_died_before_starting_it(csv_enqueue(), seconds_ago=61)
    task_of(scoring).set_failed(OSError("the database went away"))

    assert sorted(jobs.jobs_reap_stale()) == sorted([training.pk, scoring.pk])

    for job in (training, scoring):
        job.refresh_from_db()
        assert job.status == JobStatus.FAILED
        assert job.error == jobs.NOT_STARTED_ERROR
        assert task_of(job).status == TaskResultStatus.FAILED
    # The training slot is free again, and a worker that gets there late does nothing.
    assert jobs.job_training_enqueue(user=None).status == JobStatus.QUEUED
    jobs.job_execute(job_id=training.pk)
    assert Job.objects.get(pk=training.pk).status == JobStatus.FAILED


@pytest.mark.django_db
def test_queued_jobs_waiting_in_the_queue_or_just_taken_are_left_alone():
    waiting = csv_enqueue()
    Job.objects.filter(pk=waiting.pk).update(created=timezone.now() - timedelta(hours=2))
    just_taken = taken_by_a_worker_that_died_before_starting_it(csv_enqueue(), seconds_ago=30)

    assert jobs.jobs_reap_stale() == []

    assert Job.objects.get(pk=waiting.pk).status == JobStatus.QUEUED
    assert Job.objects.get(pk=just_taken.pk).status == JobStatus.QUEUED


# Retrying ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_failed_csv_job_is_retried_as_a_new_job_with_the_same_file(admin_user, reviewer):
    job = claimed_by_a_worker_that_died(csv_enqueue(admin_user), seconds_ago=61)
    jobs.jobs_reap_stale()
    job.refresh_from_db()

    retry = jobs.job_retry(job=job, user=reviewer)

    assert (retry.kind, retry.status, retry.retry_of, retry.requested_by) == (
        JobKind.CSV_SCORING, JobStatus.QUEUED, job, reviewer,
    )  # fmt: skip
    assert retry.params == job.params
    copy = JobFile.objects.get(job=retry)
    assert (copy.name, bytes(copy.data)) == ("tweets.csv", GOOD_CSV)
    assert task_of(retry).status == TaskResultStatus.READY
    assert task_of(retry).args_kwargs["args"] == [retry.pk]


@pytest.mark.django_db
def test_a_failed_training_is_retried_unless_another_is_unfinished():
    job = claimed_by_a_worker_that_died(jobs.job_training_enqueue(user=None), seconds_ago=61)
    jobs.jobs_reap_stale()
    job.refresh_from_db()

    retry = jobs.job_retry(job=job, user=None)

    assert (retry.kind, retry.status) == (JobKind.TRAINING, JobStatus.QUEUED)
    assert Job.objects.get(pk=retry.pk).retry_of == job
    with pytest.raises(TrainingAlreadyQueued) as refused:
        jobs.job_retry(job=job, user=None)
    assert refused.value.job.pk == retry.pk


@pytest.mark.django_db
def test_only_a_failed_job_with_its_file_can_be_retried(settings):
    queued = csv_enqueue()
    with pytest.raises(JobNotRetryable, match="Only a failed job can be started again"):
        jobs.job_retry(job=queued, user=None)
    settings.CSV_MAX_BYTES = 10
    too_large = csv_enqueue()
    with pytest.raises(JobNotRetryable, match="never stored"):
        jobs.job_retry(job=too_large, user=None)


@pytest.mark.parametrize(
    ("who", "training", "csv", "label_check"),
    [
        ("superuser", True, True, True),
        ("reviewer", False, True, True),  # staff who relabel, but do not train
        ("staff without permissions", False, True, False),
        ("not staff", False, False, False),
    ],
)
def test_who_may_start_each_kind_of_job(who, training, csv, label_check, django_user_model):
    """The one rule the API's retry, the job page and the admin's retry action ask."""
    user = django_user_model.objects.create_user(
        who.replace(" ", "-"), is_staff=who != "not staff", is_superuser=who == "superuser"
    )
    if who == "reviewer":
        user.groups.add(reviewers_group())
    allowed = {
        kind: jobs.job_start_allowed(user=user, kind=kind)
        for kind in (JobKind.TRAINING, JobKind.CSV_SCORING, JobKind.LABEL_ISSUES)
    }
    assert allowed == {
        JobKind.TRAINING: training,
        JobKind.CSV_SCORING: csv,
        JobKind.LABEL_ISSUES: label_check,
    }
