"""Everything that reads: model versions and stored predictions."""

from __future__ import annotations

from django.db.models import F, QuerySet
from django.db.models.functions import Abs

from ml.data import Dataset
from predictor.models import Label, ModelVersion, Prediction


def model_version_active() -> ModelVersion | None:
    """The active model version, or None."""
    return ModelVersion.objects.filter(is_active=True).first()


def model_version_get(*, name: str) -> ModelVersion:
    """The version called `name` (ModelVersion.DoesNotExist otherwise)."""
    return ModelVersion.objects.get(name=name)


def feedback_dataset() -> Dataset:
    """Every reviewed prediction as training rows, oldest review first (so the latest wins)."""
    rows = (
        Prediction.objects.filter(true_label__isnull=False)
        .order_by("reviewed_at", "id")
        .values_list("text", "keyword", "location", "true_label")
    )
    return Dataset.from_rows(
        (text, keyword, location, Label.to_target(label)) for text, keyword, location, label in rows
    )


def prediction_list() -> QuerySet[Prediction]:
    """Stored predictions, newest first, with what their list views show joined in."""
    return Prediction.objects.select_related("model_version", "reviewed_by").order_by(
        "-created", "-id"
    )


def prediction_order_by_uncertainty(queryset: QuerySet[Prediction]) -> QuerySet[Prediction]:
    """Closest to the decision threshold first (the expression the review-queue index holds)."""
    return queryset.order_by(Abs(F("probability") - F("threshold")), "id")


def model_version_list() -> QuerySet[ModelVersion]:
    """Every model version, newest first."""
    return ModelVersion.objects.order_by("-created", "-id")
