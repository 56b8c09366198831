"""The API's exception handler: DRF's, plus a 503 with a message for a database that cannot
take the request (the details go to the log, not to the caller)."""

from __future__ import annotations

import logging
from typing import Any

from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from predictor.database_errors import DATABASE_UNAVAILABLE_ERRORS, DATABASE_UNAVAILABLE_MESSAGE

logger = logging.getLogger(__name__)


class DatabaseUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = DATABASE_UNAVAILABLE_MESSAGE
    default_code = "database_unavailable"


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DATABASE_UNAVAILABLE_ERRORS):
        view = context.get("view")
        logger.error("database unavailable in %s: %s", type(view).__name__, exc)
        exc = DatabaseUnavailable()
    return drf_exception_handler(exc, context)
