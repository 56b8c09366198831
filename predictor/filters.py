"""Query-string filters for the prediction history (used by the API list endpoint)."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema_field

from predictor.models import Label, Prediction
from predictor.selectors import prediction_order_by_suspicion, prediction_order_by_uncertainty

ORDERINGS = {
    "created": ("created", "id"),
    "-created": ("-created", "-id"),
    "probability": ("probability", "id"),
    "-probability": ("-probability", "-id"),
}


class PredictionFilter(django_filters.FilterSet):
    label = django_filters.ChoiceFilter(field_name="predicted_label", choices=Label.choices)
    true_label = django_filters.ChoiceFilter(choices=Label.choices)
    reviewed = django_filters.TypedChoiceFilter(
        method="filter_reviewed",
        choices=[("true", "true"), ("false", "false")],
        coerce=lambda value: value == "true",
    )
    model_version = django_filters.CharFilter(field_name="model_version__name")
    created_after = django_filters.IsoDateTimeFilter(field_name="created", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created", lookup_expr="lt")
    search = django_filters.CharFilter(field_name="text", lookup_expr="icontains")
    ordering = django_filters.ChoiceFilter(
        method="filter_ordering",
        choices=[(name, name) for name in [*ORDERINGS, "uncertainty", "-suspicion", "suspicion"]],
        help_text="created, -created (default), probability, -probability, uncertainty "
        "(closest to the threshold first), -suspicion (the reviews whose label most likely is "
        "wrong first, by the last `manage.py label_issues`) or suspicion (least likely first); "
        "with either suspicion order, predictions the check did not score come last.",
    )

    class Meta:
        model = Prediction
        fields = []

    # The query string says "true" or "false" (anything else is a 400); the method gets a bool.
    @extend_schema_field({"type": "string", "enum": ["true", "false"]})
    def filter_reviewed(self, queryset: QuerySet, name: str, value: bool) -> QuerySet:
        return queryset.filter(true_label__isnull=not value)

    def filter_ordering(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value == "uncertainty":
            return prediction_order_by_uncertainty(queryset)
        if value in ("-suspicion", "suspicion"):
            return prediction_order_by_suspicion(queryset, descending=value == "-suspicion")
        return queryset.order_by(*ORDERINGS[value])
