"""Web pages (the prediction form, also at the old Flask app's addresses) and operations probes."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import connection
from django.db.utils import DatabaseError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.views import defaults
from django.views.decorators.http import require_http_methods, require_safe

from predictor import services
from predictor.active_model import active_model
from predictor.errors import ModelUnavailable
from predictor.forms import TweetForm
from predictor.middleware import unavailable_page
from predictor.models import Source

logger = logging.getLogger(__name__)


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
    return render(request, "predict.html", {"form": form, "prediction": prediction})


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
