"""REST endpoints: predict (single and batch), history and relabeling, model versions."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from predictor import selectors, services
from predictor.api.serializers import (
    BatchResultSerializer,
    BatchSerializer,
    ModelVersionSerializer,
    PredictionHistorySerializer,
    PredictionSerializer,
    RelabelSerializer,
    TweetSerializer,
)
from predictor.api.throttles import PredictionRateThrottle
from predictor.filters import PredictionFilter
from predictor.models import ModelVersion, Source

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
        )
        return Response(PredictionHistorySerializer(self.get_object()).data)


class ModelVersionListView(generics.ListAPIView):
    """Every model version with its metrics, rows used and threshold (staff)."""

    queryset = selectors.model_version_list()
    serializer_class = ModelVersionSerializer


class ActiveModelVersionView(generics.RetrieveAPIView):
    """The active model version (staff); 404 when none is active."""

    queryset = selectors.model_version_list()
    serializer_class = ModelVersionSerializer

    def get_object(self) -> ModelVersion:
        version = get_object_or_404(self.get_queryset(), is_active=True)
        self.check_object_permissions(self.request, version)
        return version
