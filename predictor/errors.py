"""Why a request that is fine cannot be served now, and the one mapping from such failures to the
message a caller reads: the API's exception handler and the pages' middleware both use it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import InternalError, OperationalError

if TYPE_CHECKING:
    from predictor.models import Job

# SQLite raises OperationalError for all of these; PostgreSQL raises InternalError for a write to
# a read-only (standby) database and OperationalError for a full disk or a lost connection.
DATABASE_UNAVAILABLE_ERRORS = (OperationalError, InternalError)

DATABASE_UNAVAILABLE_MESSAGE = (
    "The database cannot take this request right now (it may be locked, read-only or full); "
    "nothing was stored. Please try again in a minute."
)


class ModelUnavailable(Exception):
    """No model can serve predictions right now; the message says why."""


class NoEvaluationSet(Exception):
    """Nothing to compare versions on yet: no version has been trained here."""


class NoEarlierVersion(Exception):
    """A rollback with nothing to roll back to."""


class ExplanationUnavailable(Exception):
    """The model version that made a prediction cannot be loaded to explain it (the API: 409)."""


class JobConflict(Exception):
    """A request that the state of a job (`job`) rules out (the API answers 409)."""

    def __init__(self, message: str, job: Job) -> None:
        super().__init__(message)
        self.job = job


class TrainingAlreadyQueued(JobConflict):
    """A training was asked for while another one is queued or running (`job`)."""

    def __init__(self, job: Job) -> None:
        super().__init__(
            f"A training is already {job.status} (job {job.pk}); wait for it to finish.", job
        )


class JobNotRetryable(JobConflict, ValueError):
    """Only a failed job whose input was kept can be started again."""


class JobFailed(Exception):
    """A job cannot go on; the message, for the person who asked, says why (and which line)."""


def unavailable_reason(exc: BaseException) -> tuple[str, str] | None:
    """(code, message for the caller) when `exc` means "not now" (503), else None.

    A database's own words can name files and hosts: they go to the log, never to the caller.
    """
    if isinstance(exc, ModelUnavailable):
        return "model_unavailable", str(exc)
    if isinstance(exc, DATABASE_UNAVAILABLE_ERRORS):
        return "database_unavailable", DATABASE_UNAVAILABLE_MESSAGE
    return None
