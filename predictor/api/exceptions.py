"""The API's exception handler: DRF's, plus the one mapping of "not now" failures
(predictor.errors: no model, a database that refuses) to a 503 whose `detail` says why (a
database's own words go to the log, not to the caller), of a second training to a 409 that
names the first, and of a prediction whose model version cannot be loaded to a 409."""

from __future__ import annotations

import logging
from typing import Any

from django.urls import reverse
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from predictor.errors import ExplanationUnavailable, JobConflict, unavailable_reason

logger = logging.getLogger(__name__)


class ServiceUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The service cannot make predictions right now."
    default_code = "service_unavailable"


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, JobConflict):
        return _job_conflict(exc, context)
    if isinstance(exc, ExplanationUnavailable):
        return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
    reason = unavailable_reason(exc)
    if reason is not None:
        code, message = reason
        if code == "database_unavailable":
            view = context.get("view")
            logger.error("database unavailable in %s: %s", type(view).__name__, exc)
        exc = ServiceUnavailable(message, code)
    return drf_exception_handler(exc, context)


def _job_conflict(exc: JobConflict, context: dict[str, Any]) -> Response:
    """409 naming the job the request conflicts with (the training already queued or running,
    the job that cannot be started again), with its address."""
    request = context["request"]
    url = request.build_absolute_uri(reverse("api:job-detail", args=[exc.job.pk]))
    return Response(
        {"detail": str(exc), "job": {"id": exc.job.pk, "status": exc.job.status, "url": url}},
        status=status.HTTP_409_CONFLICT,
        headers={"Location": url},
    )
