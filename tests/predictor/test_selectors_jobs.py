"""The job selectors: who sees which jobs, the one unfinished training, a job's files."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from predictor import selectors
from predictor.models import Job, JobFile, JobKind, JobStatus

pytestmark = pytest.mark.django_db


def test_staff_see_every_job_and_others_their_own_newest_first(django_user_model, reviewer):
    pat = django_user_model.objects.create_user("pat")
    oscar = django_user_model.objects.create_user("oscar")
    now = timezone.now()
    older = Job.objects.create(kind=JobKind.CSV_SCORING, requested_by=pat, created=now)
    newer = Job.objects.create(
        kind=JobKind.CSV_SCORING, requested_by=pat, created=now + timedelta(seconds=1)
    )
    same_time = Job.objects.create(kind=JobKind.CSV_SCORING, requested_by=pat, created=now)
    theirs = Job.objects.create(kind=JobKind.TRAINING, requested_by=oscar, created=now)
    nobodys = Job.objects.create(
        kind=JobKind.TRAINING, requested_by=None, created=now, status=JobStatus.FAILED
    )

    assert list(selectors.job_list_for(user=pat)) == [newer, same_time, older]
    assert list(selectors.job_list_for(user=oscar)) == [theirs]
    assert list(selectors.job_list_for(user=reviewer)) == [newer, nobodys, theirs, same_time, older]


def test_the_unfinished_training_is_the_queued_or_running_one():
    assert selectors.job_training_unfinished() is None
    Job.objects.create(kind=JobKind.TRAINING, status=JobStatus.SUCCEEDED)
    Job.objects.create(kind=JobKind.TRAINING, status=JobStatus.FAILED)
    Job.objects.create(kind=JobKind.CSV_SCORING, status=JobStatus.RUNNING)
    assert selectors.job_training_unfinished() is None

    queued = Job.objects.create(kind=JobKind.TRAINING, status=JobStatus.QUEUED)
    assert selectors.job_training_unfinished() == queued
    Job.objects.filter(pk=queued.pk).update(status=JobStatus.RUNNING)
    assert selectors.job_training_unfinished() == queued


def test_a_job_s_file_by_its_role():
    job = Job.objects.create(kind=JobKind.CSV_SCORING)
    upload = JobFile.objects.create(
        job=job, role=JobFile.Role.INPUT, name="in.csv", size=3, data=b"abc"
    )
    assert selectors.job_file(job=job, role=JobFile.Role.INPUT) == upload
    assert selectors.job_file(job=job, role=JobFile.Role.RESULT) is None
