"""Web pages: the prediction form (also at the old Flask app's addresses), the CSV upload and a
background job's page (for staff and whoever asked); and the operations probes."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.db import connection
from django.db.utils import DatabaseError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.views import defaults
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from predictor import jobs, selectors, services
from predictor.active_model import active_model
from predictor.csv_scoring import RESULT_COLUMNS
from predictor.errors import ExplanationUnavailable, ModelUnavailable, TrainingAlreadyQueued
from predictor.forms import CsvUploadForm, TweetForm
from predictor.middleware import unavailable_page
from predictor.models import Job, JobFile, JobKind, JobStatus, Prediction, Source

logger = logging.getLogger(__name__)

# The site's one sign-in page; it sends people back to `next` afterwards.
LOGIN_URL = "admin:login"


def _form_again(request: HttpRequest) -> tuple[str, dict[str, Any]]:
    """The form with what was typed, for the retry."""
    return "predict.html", {"form": TweetForm(request.POST or None)}


@require_http_methods(["GET", "HEAD", "POST"])
@unavailable_page(_form_again)
def predict_page(request: HttpRequest) -> HttpResponse:
    """The form; a POST answers the verdict and shows the form again with what was typed."""
    if request.method != "POST":
        if request.path == "/predict":
            return HttpResponseRedirect("/")
        return render(request, "predict.html", {"form": TweetForm()})
    form = TweetForm(request.POST)
    if not form.is_valid():
        return render(request, "predict.html", {"form": form}, status=400)
    prediction = services.prediction_create(tweet=form.tweet, source=Source.FORM)
    try:
        explanation = selectors.prediction_explanation(prediction=prediction)
    except ExplanationUnavailable:
        # Only if the version was swapped and its artifact lost in between: the verdict stands.
        logger.warning("prediction %s was stored but cannot be explained", prediction.pk)
        explanation = None
    context = {"form": form, "prediction": prediction, "explanation": explanation}
    return render(request, "predict.html", context)


def job_url(job: Job) -> str:
    """A job's page."""
    return reverse("job", args=[job.pk])


def job_duration(job: Job) -> str:
    """How long a job ran, e.g. "12 s", "2 min 5 s"; while it runs, so far; "-" before it starts."""
    if job.started is None:
        return "-"
    seconds = ((job.finished or timezone.now()) - job.started).total_seconds()
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


def job_retry_allowed(*, user: AbstractBaseUser, job: Job) -> bool:
    """Whether `user` may start failed `job` again: what starting it needs
    (jobs.job_start_allowed)."""
    return job.status == JobStatus.FAILED and jobs.job_start_allowed(user=user, kind=job.kind)


@require_http_methods(["GET", "HEAD", "POST"])
@login_required(login_url=LOGIN_URL)
def upload_page(request: HttpRequest) -> HttpResponse:
    """GET: the form for a CSV file to score (staff). POST: queue it as a background job and go
    to the job's page; the job checks the file and names the line of any problem."""
    if not request.user.is_staff:
        raise PermissionDenied
    form = CsvUploadForm(request.POST, request.FILES) if request.method == "POST" else None
    if form is not None and form.is_valid():
        upload = form.cleaned_data["file"]
        job = jobs.job_csv_enqueue(user=request.user, upload=upload, filename=upload.name)
        return HttpResponseRedirect(job_url(job))
    context = {
        "form": form or CsvUploadForm(),
        "max_bytes": settings.CSV_MAX_BYTES,
        "max_rows": settings.CSV_MAX_ROWS,
        "result_columns": RESULT_COLUMNS,
    }
    return render(request, "upload.html", context, status=400 if form is not None else 200)


def _job_visible(request: HttpRequest, pk: int) -> Job:
    """The job, if the user may see it (whoever asked for it, or staff); else 404. A job whose
    worker died reads as failed at once (stale jobs are failed first)."""
    jobs.jobs_reap_stale()
    return get_object_or_404(selectors.job_list_for(user=request.user), pk=pk)


def _flagged_reviews_url(user: AbstractBaseUser) -> str | None:
    """The admin's prediction list of the reviews a label check flagged, most suspicious first
    (None for a user who may not see it)."""
    if not (user.is_staff and user.has_perm("predictor.view_prediction")):
        return None
    columns = admin.site.get_model_admin(Prediction).list_display
    # The changelist's `o` counts its columns from the actions' checkbox, column 0.
    column = columns.index("suspicion_display") + 1
    return f"{reverse('admin:predictor_prediction_changelist')}?label_wrong=yes&o=-{column}"


@require_safe
@login_required(login_url=LOGIN_URL)
def job_page(request: HttpRequest, pk: int) -> HttpResponse:
    """A background job: its stage and progress while it runs (static/js/job-progress.js polls
    the API and reloads at the end; a Refresh link does without), then its result or its error."""
    job = _job_visible(request, pk)
    result = job.result if job.status == JobStatus.SUCCEEDED else None
    version = None
    if (
        job.kind == JobKind.TRAINING
        and result
        and request.user.has_perm("predictor.view_modelversion")
    ):
        version = selectors.model_version_list().filter(name=result.get("version")).first()
    context = {
        "job": job,
        "duration": job_duration(job),
        "result": result,
        "version": version,
        "flagged_url": (
            _flagged_reviews_url(request.user)
            if result and job.kind == JobKind.LABEL_ISSUES
            else None
        ),
        "retries": list(job.retries.order_by("created", "id")),
        "can_retry": job_retry_allowed(user=request.user, job=job)
        # A file over the size limit was never kept: there is nothing to start again with.
        and (job.kind != JobKind.CSV_SCORING or job.files.filter(role=JobFile.Role.INPUT).exists()),
    }
    return render(request, "job.html", context)


@require_POST
@login_required(login_url=LOGIN_URL)
def job_retry_page(request: HttpRequest, pk: int) -> HttpResponse:
    """Start a failed job again (jobs.job_retry) and go to the new job's page."""
    job = _job_visible(request, pk)
    if not job_retry_allowed(user=request.user, job=job):
        raise PermissionDenied
    try:
        retry = jobs.job_retry(job=job, user=request.user)
    except TrainingAlreadyQueued as exc:
        messages.warning(
            request, f"A training is already {exc.job.status}: job #{exc.job.pk}, shown here."
        )
        return HttpResponseRedirect(job_url(exc.job))
    except ValueError as exc:
        messages.error(request, f"Job #{job.pk} cannot be started again: {exc}.")
        return HttpResponseRedirect(job_url(job))
    messages.success(request, f"Job #{job.pk} started again as job #{retry.pk}.")
    return HttpResponseRedirect(job_url(retry))


@require_safe
def favicon(request: HttpRequest) -> HttpResponseRedirect:
    """Browsers ask every site for /favicon.ico, whatever its pages link (the admin's link none)."""
    return HttpResponseRedirect(static("favicon.svg"))


@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    """200 when the database answers and an active model is loaded, else 503 with the reason."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        current = active_model.get()
    except DatabaseError as exc:
        # The driver's message can name files and hosts: it goes to the log, not to the caller.
        # One line, no traceback: a load balancer probes every few seconds while it lasts.
        logger.warning("readyz: the database does not answer: %s", exc)
        return JsonResponse({"status": "unavailable", "reason": "database unavailable"}, status=503)
    except ModelUnavailable as exc:
        return JsonResponse({"status": "unavailable", "reason": str(exc)}, status=503)
    return JsonResponse({"status": "ready", "model_version": current.version.name})


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """400 for a request refused before any view ran; under /api/ JSON, and 413 with the limit
    for a body over DATA_UPLOAD_MAX_MEMORY_SIZE, as API clients expect. Else the page."""
    if not request.path.startswith("/api/"):
        return defaults.bad_request(request, exception)
    if isinstance(exception, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return JsonResponse(
            {"detail": f"The request body is over {limit:,} bytes; send fewer items per call."},
            status=413,
        )
    return JsonResponse({"detail": "Bad request."}, status=400)


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """404 for an unknown address: JSON under /api/, as API clients expect, else the page."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)
