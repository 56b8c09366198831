"""REST endpoints: predict (single, batch, CSV file), history and relabeling, model versions and
training, background jobs."""

from __future__ import annotations

import io

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.http import content_disposition_header
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny, IsAdminUser, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.mediatypes import media_type_matches
from rest_framework.views import APIView

from predictor import jobs, selectors, services
from predictor.api.parsers import CsvParser
from predictor.api.serializers import (
    BatchResultSerializer,
    BatchSerializer,
    JobConflictSerializer,
    JobSerializer,
    ModelVersionSerializer,
    PredictionExplanationSerializer,
    PredictionHistorySerializer,
    PredictionSerializer,
    RelabelSerializer,
    TweetSerializer,
)
from predictor.api.throttles import PredictionRateThrottle
from predictor.filters import PredictionFilter
from predictor.models import Job, JobFile, ModelVersion, Source

_UNAVAILABLE = OpenApiResponse(description="No model can serve predictions (see `detail`).")
_INVALID = OpenApiResponse(description="Invalid input; the body names each bad field.")


class _PredictMixin:
    """Anyone may predict; anonymous callers are rate-limited per address."""

    def get_permissions(self):
        if self.request.method == "POST":
            return [AllowAny()]
        return super().get_permissions()

    def get_throttles(self):
        if self.request.method == "POST":
            return [PredictionRateThrottle()]
        return []


class PredictionListCreateView(_PredictMixin, generics.ListAPIView):
    """GET: the stored predictions (staff). POST: classify one tweet and store it (anyone)."""

    queryset = selectors.prediction_list()
    serializer_class = PredictionHistorySerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = PredictionFilter

    @extend_schema(
        request=TweetSerializer,
        responses={201: PredictionSerializer, 400: _INVALID, 503: _UNAVAILABLE},
        examples=[
            OpenApiExample(
                "A wildfire",
                value={"text": "Forest fire near La Ronge Sask. Canada", "keyword": "wildfire"},
                request_only=True,
            ),
            OpenApiExample(
                "Answer",
                value={
                    "id": 42,
                    "text": "Forest fire near La Ronge Sask. Canada",
                    "keyword": "wildfire",
                    "location": "",
                    "label": "disaster",
                    "is_disaster": True,
                    "probability": 0.93,
                    "threshold": 0.41,
                    "model_version": "v3",
                    "created": "2026-11-25T09:30:00.123456Z",
                },
                response_only=True,
                status_codes=["201"],
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        tweet = TweetSerializer.parse(request.data)
        prediction = services.prediction_create(tweet=tweet, source=Source.API)
        return Response(PredictionSerializer.represent(prediction), status=status.HTTP_201_CREATED)


class PredictionBatchView(APIView):
    """Classify 1 to 1,000 tweets in one call; all are stored, answers in request order."""

    permission_classes = [AllowAny]
    throttle_classes = [PredictionRateThrottle]

    @extend_schema(
        request=BatchSerializer,
        responses={201: BatchResultSerializer, 400: _INVALID, 503: _UNAVAILABLE},
        examples=[
            OpenApiExample(
                "Two tweets",
                value={
                    "items": [
                        {"text": "Forest fire near La Ronge Sask. Canada"},
                        {"text": "What a lovely sunny day", "location": "Leeds"},
                    ]
                },
                request_only=True,
            )
        ],
    )
    def post(self, request: Request) -> Response:
        tweets = BatchSerializer.parse(request.data)
        predictions = services.prediction_create_batch(tweets=tweets, source=Source.BATCH)
        return Response(
            BatchResultSerializer.represent(predictions), status=status.HTTP_201_CREATED
        )


class PredictionDetailView(generics.RetrieveAPIView):
    """GET one stored prediction; PATCH its reviewer label (staff)."""

    queryset = selectors.prediction_list()
    serializer_class = PredictionHistorySerializer

    @extend_schema(request=RelabelSerializer, responses={200: PredictionHistorySerializer})
    def patch(self, request: Request, pk: int) -> Response:
        prediction = self.get_object()
        serializer = RelabelSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.prediction_review(
            predictions=selectors.prediction_list().filter(pk=prediction.pk),
            true_label=serializer.validated_data["true_label"],
            reviewer=request.user,
            via="API",
            # One item, as in the queue: a first review may be drawn for a second reviewer, and
            # a pending item's label from someone else is its second review.
            double_review=True,
        )
        return Response(PredictionHistorySerializer(self.get_object()).data)


class PredictionExplanationView(generics.RetrieveAPIView):
    """GET why the model version that made a stored prediction gave it its probability (staff):
    the words that pushed it towards "disaster" and away, adding up exactly to `score`."""

    queryset = selectors.prediction_list()
    serializer_class = PredictionExplanationSerializer

    @extend_schema(
        responses={
            200: PredictionExplanationSerializer,
            409: OpenApiResponse(
                description="The model version that made it cannot be loaded (see `detail`)."
            ),
        }
    )
    def get(self, request: Request, pk: int) -> Response:
        prediction = self.get_object()
        explanation = selectors.prediction_explanation(prediction=prediction)
        return Response(PredictionExplanationSerializer.represent(prediction, explanation))


_JOB_QUEUED = OpenApiResponse(JobSerializer, description="Queued: poll the job's `url`.")
_TRAINING_CONFLICT = OpenApiResponse(
    JobConflictSerializer,
    description="A training is already queued or running: `job.url` is its address.",
)
_JOB_CONFLICT = OpenApiResponse(
    JobConflictSerializer,
    description="The job cannot be started again (it has not failed, or its file was never "
    "stored), or a training is already queued or running: `job` names the job in the way.",
)


class ModelVersionListView(generics.ListAPIView):
    """GET: every model version with its metrics, rows used and threshold (staff). POST: train
    a new version in the background (staff allowed to add model versions)."""

    queryset = selectors.model_version_list()
    serializer_class = ModelVersionSerializer

    @extend_schema(
        request=None,
        responses={202: _JOB_QUEUED, 409: _TRAINING_CONFLICT},
    )
    def post(self, request: Request) -> Response:
        job = jobs.job_training_enqueue(user=request.user)
        return _job_accepted(job, request)


def _job_accepted(job: Job, request: Request) -> Response:
    data = JobSerializer(job, context={"request": request}).data
    return Response(data, status=status.HTTP_202_ACCEPTED, headers={"Location": data["url"]})


class PredictionCsvView(APIView):
    """Score a CSV file in the background (staff and reviewers): a `text/csv` body or a multipart
    `file`. Columns: `text` (required), `keyword`, `location`; others pass through."""

    permission_classes = [IsAdminUser]
    parser_classes = [CsvParser, MultiPartParser]
    request_body_required = True  # the schema's requestBody (predictor.api.schema)

    @extend_schema(
        request={
            "text/csv": bytes,
            "multipart/form-data": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}},
                "required": ["file"],
            },
        },
        responses={202: _JOB_QUEUED},
    )
    def post(self, request: Request) -> Response:
        if media_type_matches(CsvParser.media_type, request.content_type):
            # An empty body never reaches the parser: DRF gives {} for it (a job then says the
            # file is empty).
            data = request.data if isinstance(request.data, bytes) else b""
            upload, name = io.BytesIO(data), "upload.csv"
        else:
            file = request.data.get("file")
            if file is None or isinstance(file, str):
                raise ValidationError({"file": ["Send the CSV file as the multipart field file."]})
            upload, name = file, file.name
        job = jobs.job_csv_enqueue(user=request.user, upload=upload, filename=name)
        return _job_accepted(job, request)


class _JobMixin:
    """The jobs the caller may see: their own, or every job for staff. A job whose worker died
    reads as failed at once (stale jobs are failed before each read)."""

    permission_classes = [IsAuthenticated]
    serializer_class = JobSerializer

    def get_queryset(self):
        jobs.jobs_reap_stale()
        return selectors.job_list_for(user=self.request.user)


class JobListView(_JobMixin, generics.ListAPIView):
    """Background jobs, newest first: your own (staff: everyone's)."""


class JobDetailView(_JobMixin, generics.RetrieveAPIView):
    """One background job: status, stage, progress, then its result or error."""


class JobRetryView(_JobMixin, generics.GenericAPIView):
    """Start a failed job again, as a new job with the same input."""

    @extend_schema(request=None, responses={202: _JOB_QUEUED, 409: _JOB_CONFLICT})
    def post(self, request: Request, pk: int) -> Response:
        job = self.get_object()
        # Starting a job again needs what starting it needs: a reviewer sees every job but may
        # not train, and a requester may have lost their staff status since.
        if not jobs.job_start_allowed(user=request.user, kind=job.kind):
            self.permission_denied(request)
        retry = jobs.job_retry(job=job, user=request.user)
        return _job_accepted(retry, request)


class JobDownloadView(_JobMixin, generics.GenericAPIView):
    """A finished CSV job's answer file (text/csv)."""

    @extend_schema(
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY, description="The answer file.")
        }
    )
    def get(self, request: Request, pk: int) -> HttpResponse:
        job = self.get_object()
        answer = selectors.job_file(job=job, role=JobFile.Role.RESULT)
        if answer is None:
            raise NotFound(f"This job has no answer file (it is {job.status}).")
        response = HttpResponse(bytes(answer.data), content_type="text/csv; charset=utf-8")
        # Quoted, or percent-encoded when not ASCII: an upload's name may hold anything.
        response["Content-Disposition"] = content_disposition_header(True, answer.name)
        return response


class ActiveModelVersionView(generics.RetrieveAPIView):
    """The active model version (staff); 404 when none is active."""

    queryset = selectors.model_version_list()
    serializer_class = ModelVersionSerializer

    def get_object(self) -> ModelVersion:
        version = get_object_or_404(self.get_queryset(), is_active=True)
        self.check_object_permissions(self.request, version)
        return version
