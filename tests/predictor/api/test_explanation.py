"""GET /api/predictions/{id}/explanation/: staff only, explained by the version that made it."""

from __future__ import annotations

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from ml.persistence import load, save
from predictor import services
from predictor.models import ModelVersion, Source
from predictor.tweets import tweet_clean
from predictor.version_models import version_models

pytestmark = pytest.mark.django_db

FIRE = "Forest fire near La Ronge Sask. Canada"
KEYS = {
    "id", "model_version", "probability", "score", "base", "unit", "terms", "rest", "rest_count",
    "members",
}  # fmt: skip


@pytest.fixture(autouse=True)
def _forget_loaded_versions():
    version_models.clear()
    yield
    version_models.clear()


def url(pk: int) -> str:
    return f"/api/predictions/{pk}/explanation/"


def stored(text: str = FIRE, **fields):
    return services.prediction_create(tweet=tweet_clean(text=text, **fields), source=Source.API)


def test_staff_read_the_explanation_that_adds_up(reviewer_api, active_version):
    prediction = stored(keyword="wildfire", location="Canada")

    response = reviewer_api.get(url(prediction.pk))

    assert response.status_code == 200
    body = response.json()
    assert set(body) == KEYS
    assert body["id"] == prediction.pk and body["model_version"] == "v1"
    assert body["unit"] == "probability"
    assert body["probability"] == prediction.probability
    assert body["score"] == pytest.approx(prediction.probability, abs=1e-5)
    terms = body["terms"]
    assert 0 < len(terms) <= 10
    assert body["base"] + sum(t["contribution"] for t in terms) + body["rest"] == pytest.approx(
        body["score"], abs=1e-9
    )
    sizes = [abs(t["contribution"]) for t in terms]
    assert sizes == sorted(sizes, reverse=True)
    for term in terms:
        assert set(term) == {"term", "field", "contribution", "direction"}
        assert term["direction"] == ("disaster" if term["contribution"] > 0 else "not_disaster")
    assert [m["name"] for m in body["members"]] == ["linear", "trees"]
    assert [m["weight"] for m in body["members"]] == pytest.approx([0.7, 0.3])


def test_anonymous_callers_are_refused(api, active_version):
    prediction = stored()

    assert api.get(url(prediction.pk)).status_code in (401, 403)


@pytest.mark.parametrize("is_staff", [False, True])
def test_users_without_the_view_permission_are_refused(active_version, django_user_model, is_staff):
    prediction = stored()
    user = django_user_model.objects.create_user("pat", password="pw", is_staff=is_staff)
    client = APIClient()
    client.force_authenticate(user)

    assert client.get(url(prediction.pk)).status_code == 403


def test_an_unknown_prediction_is_404(reviewer_api, active_version):
    response = reviewer_api.get(url(999_999))

    assert response.status_code == 404


@pytest.fixture
def other_version(active_version, sample_artifact, tmp_path) -> ModelVersion:
    """An inactive version whose model differs from the active one (its intercept moved)."""
    saved, threshold = sample_artifact
    model = load(saved.path, saved.sha256)
    linear = model.pipeline.named_steps["classifier"].named_estimators_["linear"]
    linear.intercept_ = linear.intercept_ + 1.0
    artifact = save(model, settings.MODELS_DIR, "v2-shifted")
    return ModelVersion.objects.create(
        name="v2",
        artifact_path=artifact.path.name,
        sha256=artifact.sha256,
        threshold=threshold,
        base_rows=200,
        metrics=active_version.metrics,
    )


def test_a_prediction_is_explained_by_the_version_that_made_it(
    reviewer_api, active_version, other_version, make_prediction
):
    by_active = stored()
    by_other = make_prediction(FIRE, version=other_version, probability=0.5)

    active_body = reviewer_api.get(url(by_active.pk)).json()
    other_body = reviewer_api.get(url(by_other.pk)).json()

    assert other_body["model_version"] == "v2"
    active_base = active_body["members"][0]["base"]
    assert other_body["members"][0]["base"] == pytest.approx(active_base + 1.0, abs=1e-12)
    # The same tweet, a different model: a different score, still adding up.
    assert other_body["score"] != pytest.approx(active_body["score"], abs=1e-6)
    total = other_body["base"] + sum(t["contribution"] for t in other_body["terms"])
    assert total + other_body["rest"] == pytest.approx(other_body["score"], abs=1e-9)


def test_a_version_whose_artifact_is_gone_answers_409(
    reviewer_api, active_version, make_version, make_prediction
):
    gone = make_version("v0", artifact=False)
    prediction = make_prediction(FIRE, version=gone)

    response = reviewer_api.get(url(prediction.pk))

    assert response.status_code == 409
    detail = response.json()["detail"]
    assert f"#{prediction.pk} cannot be explained" in detail and "v0" in detail


def test_the_prediction_endpoints_do_not_answer_explanations(api, active_version):
    body = api.post("/api/predictions/", {"text": FIRE}, format="json").json()

    assert not {"terms", "score", "members"} & set(body)
