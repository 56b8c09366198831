"""The history's label-check fields: `ordering=-suspicion` / `ordering=suspicion` (unchecked
predictions last both ways, then by id) and each prediction's `suspicion`."""

from __future__ import annotations

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from predictor.models import Label, LabelSuspicion

pytestmark = pytest.mark.django_db


@pytest.fixture
def mix(make_prediction, admin_user):
    def review(text: str, suspicion: float | None):
        prediction = make_prediction(text, true_label=Label.DISASTER, reviewed_by=admin_user)
        if suspicion is not None:
            LabelSuspicion.objects.create(
                prediction=prediction,
                target=1,
                probability=1 - suspicion,
                suspicion=suspicion,
                flagged=suspicion > 0.5,
                data_file="train.csv",
                computed=timezone.now(),
            )
        return prediction

    return {
        "unchecked_a": review("Not checked, older", None),
        "low": review("Fire downtown", 0.1),
        "high": review("Sunny day", 0.9),
        "unchecked_b": make_prediction("Never reviewed"),
        "tie_a": review("Storm warning", 0.5),
        "tie_b": review("Storm warning again", 0.5),
    }


@pytest.fixture
def reviewer_api(reviewer) -> APIClient:
    client = APIClient()
    client.force_authenticate(reviewer)
    return client


def order(client: APIClient, mix, query: str) -> list[str]:
    response = client.get(f"/api/predictions/?{query}")
    assert response.status_code == 200, response.content
    by_pk = {p.pk: name for name, p in mix.items()}
    return [by_pk[row["id"]] for row in response.json()["results"]]


def test_most_suspicious_first_then_unchecked(reviewer_api, mix):
    assert order(reviewer_api, mix, "ordering=-suspicion") == [
        "high",
        "tie_a",
        "tie_b",
        "low",
        "unchecked_a",
        "unchecked_b",
    ]


def test_least_suspicious_first_then_unchecked(reviewer_api, mix):
    assert order(reviewer_api, mix, "ordering=suspicion") == [
        "low",
        "tie_a",
        "tie_b",
        "high",
        "unchecked_a",
        "unchecked_b",
    ]


def test_filters_combine_with_the_suspicion_order(reviewer_api, mix):
    assert order(reviewer_api, mix, "ordering=-suspicion&reviewed=true&search=storm") == [
        "tie_a",
        "tie_b",
    ]


def test_each_prediction_carries_its_suspicion(reviewer_api, mix):
    rows = reviewer_api.get("/api/predictions/?ordering=-suspicion").json()["results"]
    by_id = {row["id"]: row["suspicion"] for row in rows}

    assert by_id[mix["high"].pk] == 0.9
    assert by_id[mix["unchecked_a"].pk] is None
    detail = reviewer_api.get(f"/api/predictions/{mix['low'].pk}/").json()
    assert detail["suspicion"] == 0.1


def test_the_single_prediction_post_answers_without_suspicion(api, active_version):
    response = api.post("/api/predictions/", {"text": "Forest fire"}, format="json")

    assert response.status_code == 201 and "suspicion" not in response.json()


def test_the_orderings_are_documented_in_the_schema(reviewer_api, settings):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    parameters = schema["paths"]["/api/predictions/"]["get"]["parameters"]
    ordering = next(p for p in parameters if p["name"] == "ordering")

    assert {"-suspicion", "suspicion"} <= set(ordering["schema"]["enum"])
    assert "-suspicion" in ordering["description"]
    history = schema["components"]["schemas"]["PredictionHistory"]["properties"]
    assert history["suspicion"]["nullable"] is True
