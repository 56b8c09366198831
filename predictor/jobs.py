"""Background jobs: queue a training or a CSV file, run it in the task worker (`manage.py
db_worker`) with a stage, a progress figure and a heartbeat, and record what came of it.

A job is one `Job` row and one task in django-tasks' database queue (`predictor.tasks.job_run`),
created together. The worker claims the task, then the job (`queued` -> `running`), and a
heartbeat thread writes the job's progress and a timestamp every few seconds. A running job
whose heartbeat stops (the worker was killed, the machine went down) is failed by
`jobs_reap_stale`, which also removes what it left half done: the predictions a CSV job stored,
the artifact file a training was writing. A training stores its version, the gate's verdict and
any activation in one transaction, so a dead training leaves nothing in the database.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from ml.data import DatasetError
from predictor import metrics, selectors, services
from predictor.errors import JobFailed, JobNotRetryable, TrainingAlreadyQueued
from predictor.models import Job, JobFile, JobKind, JobStatus, ModelVersion, Prediction

logger = logging.getLogger(__name__)

STALE_ERROR = (
    "The worker stopped answering (no heartbeat for {seconds:g} s): the job was stopped and "
    "nothing it did was kept. Start it again."
)
NOT_STARTED_ERROR = (
    "A worker took this job from the queue but never started it (it stopped, or could not reach "
    "the database); nothing was done. Start it again."
)


def job_training_enqueue(*, user: AbstractBaseUser | None) -> Job:
    """Queue a training of a new version on the configured base data plus the reviews.

    TrainingAlreadyQueued (holding that job) while another training is queued or running.
    """
    jobs_reap_stale()
    try:
        return _enqueue(Job(kind=JobKind.TRAINING, requested_by=user, stage="queued"))
    except IntegrityError:
        running = selectors.job_training_unfinished()
        if running is None:  # it finished between the insert and this read
            raise
        raise TrainingAlreadyQueued(running) from None


def job_csv_enqueue(
    *, user: AbstractBaseUser | None, upload: IO[bytes], filename: str = "upload.csv"
) -> Job:
    """Queue a CSV file for scoring, read from `upload` (a binary stream).

    A file over CSV_MAX_BYTES is not kept: its job is created failed, naming the line at which
    the limit was reached.
    """
    limit = settings.CSV_MAX_BYTES
    data = upload.read(limit + 1)
    name = Path(filename or "upload.csv").name[:255] or "upload.csv"
    params = {"filename": name, "bytes": len(data)}
    if len(data) > limit:
        line = data.count(b"\n", 0, limit) + 1
        now = timezone.now()
        metrics.job_count(kind=JobKind.CSV_SCORING, status=JobStatus.FAILED)
        return Job.objects.create(
            kind=JobKind.CSV_SCORING,
            requested_by=user,
            status=JobStatus.FAILED,
            params={**params, "bytes": None},
            finished=now,
            error=(
                f"line {line:,}: the file is larger than the limit of {limit:,} bytes "
                "(CSV_MAX_BYTES); split it into smaller files"
            ),
        )
    job = Job(kind=JobKind.CSV_SCORING, requested_by=user, stage="queued", params=params)
    return _enqueue(job, input_file=(name, data))


def job_label_issues_enqueue(*, user: AbstractBaseUser | None) -> Job:
    """Queue a label check of the configured base data and every review
    (services.label_issues_compute); while one is queued or running, that one is returned."""
    jobs_reap_stale()
    unfinished = selectors.job_label_issues_unfinished()
    if unfinished is not None:
        return unfinished
    return _enqueue(Job(kind=JobKind.LABEL_ISSUES, requested_by=user, stage="queued"))


def job_retry(*, job: Job, user: AbstractBaseUser | None) -> Job:
    """Start a failed job again as a new job (same kind, same input). JobNotRetryable unless it
    failed; TrainingAlreadyQueued for a training while another one is unfinished."""
    if job.status != JobStatus.FAILED:
        raise JobNotRetryable(
            f"Only a failed job can be started again; this one is {job.status}.", job
        )
    if job.kind in (JobKind.TRAINING, JobKind.LABEL_ISSUES):
        enqueue = job_training_enqueue if job.kind == JobKind.TRAINING else job_label_issues_enqueue
        retry = enqueue(user=user)
        Job.objects.filter(pk=retry.pk).update(retry_of=job)
        retry.retry_of = job
        return retry
    source = JobFile.objects.filter(job=job, role=JobFile.Role.INPUT).first()
    if source is None:
        raise JobNotRetryable(
            "This job's file was never stored (it was over the size limit): upload it again, "
            "split into smaller files.",
            job,
        )
    retry = Job(kind=job.kind, requested_by=user, stage="queued", params=job.params, retry_of=job)
    return _enqueue(retry, input_file=(source.name, bytes(source.data)))


def _enqueue(job: Job, *, input_file: tuple[str, bytes] | None = None) -> Job:
    """Store the job (and its file) and queue its task, all or nothing."""
    from predictor.tasks import job_run

    with transaction.atomic():
        job.save()
        if input_file is not None:
            name, data = input_file
            JobFile.objects.create(
                job=job, role=JobFile.Role.INPUT, name=name, size=len(data), data=data
            )
        job.task_id = str(job_run.enqueue(job.pk).id)
        job.save(update_fields=["task_id"])
    metrics.job_count(kind=job.kind, status=JobStatus.QUEUED)
    return job


# The worker's side -------------------------------------------------------------------------------


def job_execute(*, job_id: int) -> None:
    """Run a queued job to its end (the task's body). Returns without doing anything if the job
    is not queued any more (a second delivery, or it was failed as stale meanwhile)."""
    now = timezone.now()
    claimed = Job.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(
        status=JobStatus.RUNNING, started=now, heartbeat=now, stage="starting", progress=0
    )
    if not claimed:
        logger.warning("Job %s is not queued any more; not running it", job_id)
        return
    jobs_reap_stale()
    job = Job.objects.get(pk=job_id)
    runner = _RUNNERS[job.kind]
    with _Heartbeat(job.pk) as heartbeat:
        try:
            result = runner(job, heartbeat.report)
        except JobFailed as exc:
            heartbeat.stop()
            _finish_failed(job, str(exc))
            return
        except BaseException as exc:
            heartbeat.stop()
            _finish_failed(job, f"unexpected error ({type(exc).__name__}); see the worker's log")
            raise
    finished = Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(
        status=JobStatus.SUCCEEDED,
        stage="done",
        progress=100,
        result=result,
        finished=timezone.now(),
        heartbeat=timezone.now(),
    )
    if finished:
        metrics.job_count(kind=job.kind, status=JobStatus.SUCCEEDED)
    else:
        # Failed as stale while it still ran (its heartbeat could not be written): the reaper
        # discarded its output then, and what it stored since goes too. A training's version is
        # whole and may be live already: it stays, and the failed job says so.
        logger.warning("Job %s finished after it had been failed as stale", job.pk)
        _discard_partial_output(job)
        if job.kind == JobKind.TRAINING:
            failed = Job.objects.get(pk=job.pk)
            failed.result = result
            failed.error += (
                f" The training did finish afterwards: version {result['version']} was stored"
                f"{' and activated' if result['activated'] else ''}."
            )
            failed.save(update_fields=["result", "error"])


def _finish_failed(job: Job, error: str) -> None:
    failed = Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(
        status=JobStatus.FAILED, error=error, finished=timezone.now()
    )
    if failed:
        metrics.job_count(kind=job.kind, status=JobStatus.FAILED)
    _discard_partial_output(job)


def job_start_allowed(*, user: AbstractBaseUser, kind: str) -> bool:
    """Whether `user` may start a job of `kind`, or start a failed one again: the one rule of
    the API, the pages and the admin. A training needs staff allowed to add model versions (as
    `POST /api/models/` asks), a label check staff allowed to relabel predictions (the admin's
    Check labels), a CSV file staff (`POST /api/predictions/csv/`, /upload/)."""
    if not (user.is_authenticated and user.is_staff):
        return False
    if kind == JobKind.TRAINING:
        return user.has_perm("predictor.add_modelversion")
    if kind == JobKind.LABEL_ISSUES:
        return user.has_perm("predictor.change_prediction")
    return True


def jobs_reap_stale() -> list[int]:
    """Fail every running job whose heartbeat is older than JOB_STALE_SECONDS and discard what
    it left half done, and every queued job whose task a worker took that long ago without
    starting it; then, unless a training is running, remove the artifact files that dead
    trainings left in this machine's model directory. The ids of the jobs failed."""
    seconds = settings.JOB_STALE_SECONDS
    cutoff = timezone.now() - timedelta(seconds=seconds)
    reaped = []
    for job in _jobs_taken_but_never_started(cutoff):
        failed = Job.objects.filter(pk=job.pk, status=JobStatus.QUEUED).update(
            status=JobStatus.FAILED, error=NOT_STARTED_ERROR, finished=timezone.now()
        )
        if failed:
            logger.warning("Job %s failed: its task was taken but the job never started", job.pk)
            metrics.job_count(kind=job.kind, status=JobStatus.FAILED)
            _task_mark_failed(job)
            reaped.append(job.pk)
    for job in Job.objects.filter(status=JobStatus.RUNNING, heartbeat__lt=cutoff):
        failed = Job.objects.filter(
            pk=job.pk, status=JobStatus.RUNNING, heartbeat__lt=cutoff
        ).update(
            status=JobStatus.FAILED,
            error=STALE_ERROR.format(seconds=seconds),
            finished=timezone.now(),
        )
        if failed:
            logger.warning("Job %s failed: no heartbeat for %g s", job.pk, seconds)
            metrics.job_count(kind=job.kind, status=JobStatus.FAILED)
            _discard_partial_output(job)
            _task_mark_failed(job)
            reaped.append(job.pk)
    if not Job.objects.filter(kind=JobKind.TRAINING, status=JobStatus.RUNNING).exists():
        # Not only when a training is reaped: a dead training's file is often younger than the
        # stale limit then (it was written after the last heartbeat), so later passes (the next
        # read of a job, the next job's start) must find it once it is old enough.
        _remove_orphan_artifacts()
    return reaped


def _jobs_taken_but_never_started(cutoff: datetime) -> list[Job]:
    """Queued jobs whose task is not waiting in the queue any more: a worker took it before
    `cutoff` but died, or failed, before claiming the job. Nothing would ever run them, and a
    training among them would refuse every other training."""
    from django_tasks_db.models import DBTaskResult

    queued = list(
        Job.objects.filter(status=JobStatus.QUEUED, created__lt=cutoff).exclude(task_id="")
    )
    if not queued:
        return []
    waiting = DBTaskResult.objects.filter(id__in=[job.task_id for job in queued]).filter(
        Q(status="READY") | Q(started_at__gte=cutoff)
    )
    waiting_ids = {str(pk) for pk in waiting.values_list("id", flat=True)}
    return [job for job in queued if job.task_id not in waiting_ids]


def _discard_partial_output(job: Job) -> None:
    if job.kind == JobKind.CSV_SCORING:
        JobFile.objects.filter(job=job, role=JobFile.Role.RESULT).delete()
        # In slices: on SQLite one huge DELETE would hold the write lock for long.
        while ids := list(Prediction.objects.filter(job=job).values_list("pk", flat=True)[:5000]):
            Prediction.objects.filter(pk__in=ids).delete()
    elif job.kind == JobKind.TRAINING:
        _remove_orphan_artifacts()


def _remove_orphan_artifacts() -> None:
    """Artifact files in this machine's model directory that no version names (a training killed
    between writing its file and storing its version), once older than the stale limit."""
    directory = settings.MODELS_DIR
    if not directory.is_dir():
        return
    known = set(ModelVersion.objects.values_list("artifact_path", flat=True))
    cutoff = timezone.now().timestamp() - settings.JOB_STALE_SECONDS
    for path in directory.iterdir():
        orphan = path.name not in known and (path.suffix == ".joblib" or path.suffix == ".tmp")
        if orphan and path.is_file() and path.stat().st_mtime < cutoff:
            logger.warning("Removing %s, left by a training that did not finish", path.name)
            path.unlink(missing_ok=True)


def _task_mark_failed(job: Job) -> None:
    """The queue's record of a dead worker's task says running forever: say failed."""
    from django_tasks_db.models import DBTaskResult

    if job.task_id:
        DBTaskResult.objects.filter(id=job.task_id, status="RUNNING").update(
            status="FAILED", finished_at=timezone.now()
        )


class _Heartbeat:
    """While a job runs: a thread that writes its stage and progress when they change (at most
    twice a second) and a heartbeat every JOB_HEARTBEAT_SECONDS, on its own connection.
    `report(stage, percent)` is safe to call from any thread."""

    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        self._state: tuple[str, int] | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"job-{job_id}-heartbeat")

    def report(self, stage: str, percent: int) -> None:
        with self._lock:
            self._state = (stage[:64], max(0, min(99, int(percent))))

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def _run(self) -> None:
        interval = settings.JOB_HEARTBEAT_SECONDS
        written: tuple[str, int] | None = None
        last_beat = 0.0
        try:
            while not self._stop.wait(min(0.5, interval)):
                with self._lock:
                    state = self._state
                now = timezone.now()
                due = now.timestamp() - last_beat >= interval
                if state == written and not due:
                    continue
                fields: dict[str, object] = {"heartbeat": now}
                if state is not None:
                    fields |= {"stage": state[0], "progress": state[1]}
                try:
                    Job.objects.filter(pk=self.job_id, status=JobStatus.RUNNING).update(**fields)
                except Exception:
                    # A busy or briefly unreachable database: try again at the next beat.
                    logger.warning("Job %s: could not write its heartbeat", self.job_id)
                    continue
                written, last_beat = state, now.timestamp()
        finally:
            connection.close()


def _run_training(job: Job, report: Callable[[str, int], None]) -> dict:
    try:
        version = services.model_version_train(via="job", user=job.requested_by, progress=report)
    except DatasetError as exc:
        raise JobFailed(str(exc)) from None
    return services.model_version_training_report(version)


def _run_label_issues(job: Job, report: Callable[[str, int], None]) -> dict:
    try:
        checked = services.label_issues_compute(progress=report)
    except DatasetError as exc:
        raise JobFailed(str(exc)) from None
    return checked.as_dict()


def _run_csv_scoring(job: Job, report: Callable[[str, int], None]) -> dict:
    from predictor.csv_scoring import csv_job_score

    return csv_job_score(job=job, progress=report)


_RUNNERS: dict[str, Callable[[Job, Callable[[str, int], None]], dict]] = {
    JobKind.TRAINING: _run_training,
    JobKind.CSV_SCORING: _run_csv_scoring,
    JobKind.LABEL_ISSUES: _run_label_issues,
}
