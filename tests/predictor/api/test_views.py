"""The REST API: predictions (single, batch), history, relabeling, model versions, permissions."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Permission
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from predictor import services
from predictor.models import Label, Prediction, Source
from predictor.tweets import tweet_clean

pytestmark = pytest.mark.django_db

FIRE = "Forest fire near La Ronge Sask. Canada"
ANSWER_KEYS = {
    "id", "text", "keyword", "location", "label", "is_disaster", "probability", "threshold",
    "model_version", "created",
}  # fmt: skip


@pytest.fixture(autouse=True)
def _clear_throttle_state():
    cache.clear()


@pytest.fixture
def staff_api(django_user_model):
    user = django_user_model.objects.create_superuser("admin", "admin@example.com", "pw")
    client = APIClient()
    client.force_authenticate(user)
    client.user = user
    return client


def stored(*, source: str = Source.API, **fields) -> Prediction:
    return services.prediction_create(tweet=tweet_clean(**fields), source=source)


# --- POST /api/predictions/ -------------------------------------------------------------------


def test_predict_answers_201_and_stores_exactly_what_it_answered(api, active_version):
    response = api.post("/api/predictions/", {"text": FIRE, "keyword": "wildfire"}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert set(body) == ANSWER_KEYS
    assert body["label"] == "disaster" and body["is_disaster"] is True
    assert body["model_version"] == "v1"
    row = Prediction.objects.get()
    assert row.pk == body["id"]
    assert (row.text, row.keyword, row.location, row.source) == (FIRE, "wildfire", "", "api")
    assert row.probability == pytest.approx(body["probability"], abs=1e-6)
    assert body["threshold"] == row.threshold


def test_predict_accepts_null_keyword_and_location(api, active_version):
    response = api.post(
        "/api/predictions/", {"text": FIRE, "keyword": None, "location": None}, format="json"
    )
    assert response.status_code == 201
    assert (response.json()["keyword"], response.json()["location"]) == ("", "")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "text"),
        ({"text": ""}, "text"),
        ({"text": "   "}, "text"),
        ({"text": "x" * 1001}, "text"),
        ({"text": 12}, "text"),
        ({"text": None}, "text"),
        ({"text": "ok", "keyword": 5}, "keyword"),
        ({"text": "ok", "keyword": "k" * 101}, "keyword"),
        ({"text": "ok", "location": "l" * 101}, "location"),
        ({"text": "nul \x00 inside"}, "text"),
        ({"text": ["a", "list"]}, "text"),
        ({"text": {"nested": {"deeper": 1}}}, "text"),
    ],
)
def test_predict_bad_fields_are_400_naming_the_field(api, active_version, body, field):
    response = api.post("/api/predictions/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert Prediction.objects.count() == 0


@pytest.mark.parametrize(
    ("payload", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b"[1, 2]", "application/json", 400),
        (b'"just a string"', "application/json", 400),
        (b'{"text": "caf\xe9"}', "application/json", 400),
        (b'{"text": "lone \\ud800 surrogate"}', "application/json", 400),
        (b"text=hello", "application/x-www-form-urlencoded", 415),
        (b"hello", "text/plain", 415),
    ],
)
def test_predict_malformed_bodies_are_clear_client_errors(
    api, active_version, payload, content_type, status
):
    response = api.generic("POST", "/api/predictions/", payload, content_type=content_type)
    assert response.status_code == status, response.content
    assert isinstance(response.json(), dict) and response.json()
    assert Prediction.objects.count() == 0


def test_predict_without_a_model_is_503_with_a_message(api):
    response = api.post("/api/predictions/", {"text": FIRE}, format="json")
    assert response.status_code == 503
    assert response.json() == {"detail": "no model is active"}
    assert Prediction.objects.count() == 0


def test_anonymous_predictions_are_throttled_per_address(api, active_version, settings):
    settings.PREDICTION_THROTTLE_RATE = "3/day"
    statuses = [
        api.post("/api/predictions/", {"text": FIRE}, format="json").status_code for _ in range(4)
    ]
    assert statuses == [201, 201, 201, 429]
    other = api.post("/api/predictions/", {"text": FIRE}, format="json", REMOTE_ADDR="10.9.9.9")
    assert other.status_code == 201
    assert Prediction.objects.count() == 4


def test_throttle_none_disables_it(api, active_version, settings):
    settings.PREDICTION_THROTTLE_RATE = "none"
    for _ in range(5):
        assert api.post("/api/predictions/", {"text": FIRE}, format="json").status_code == 201


def test_authenticated_callers_are_not_throttled(staff_api, active_version, settings):
    settings.PREDICTION_THROTTLE_RATE = "1/min"
    for _ in range(3):
        assert staff_api.post("/api/predictions/", {"text": FIRE}, format="json").status_code == 201


# --- POST /api/predictions/batch/ --------------------------------------------------------------


def test_batch_answers_in_request_order_and_stores_all(api, active_version):
    items = [
        {"text": FIRE},
        {"text": "I love my new shoes", "location": "Leeds"},
        {"text": "Flood"},
    ]
    response = api.post("/api/predictions/batch/", {"items": items}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["model_version"] == "v1"
    assert [r["text"] for r in body["results"]] == [i["text"] for i in items]
    assert all(set(r) == ANSWER_KEYS for r in body["results"])
    assert body["results"][0]["label"] == "disaster"
    ids = [r["id"] for r in body["results"]]
    assert (
        sorted(Prediction.objects.filter(source=Source.BATCH).values_list("id", flat=True)) == ids
    )


def test_batch_of_1000_is_accepted_and_1001_refused(api, active_version):
    items = [{"text": f"tweet number {i}"} for i in range(1001)]
    assert api.post("/api/predictions/batch/", {"items": items}, format="json").status_code == 400
    assert Prediction.objects.count() == 0
    response = api.post("/api/predictions/batch/", {"items": items[:1000]}, format="json")
    assert response.status_code == 201
    assert Prediction.objects.count() == 1000


@pytest.mark.parametrize(
    "body",
    [{}, {"items": []}, {"items": "text"}, {"items": {"text": "x"}}, [{"text": "x"}]],
)
def test_batch_shape_errors_are_400(api, active_version, body):
    response = api.post("/api/predictions/batch/", body, format="json")
    assert response.status_code == 400
    assert Prediction.objects.count() == 0


def test_batch_with_one_bad_item_names_its_index_and_field_and_stores_nothing(api, active_version):
    items = [{"text": "fine"}, {"text": "fine too"}, {"text": "fine", "location": "x" * 101}]
    response = api.post("/api/predictions/batch/", {"items": items}, format="json")
    assert response.status_code == 400
    assert list(response.json()["items"]) == ["2"]
    assert "location" in response.json()["items"]["2"]
    assert Prediction.objects.count() == 0


def test_batch_without_a_model_is_503(api):
    response = api.post("/api/predictions/batch/", {"items": [{"text": FIRE}]}, format="json")
    assert response.status_code == 503


# --- history and relabeling ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/predictions/"),
        ("get", "/api/predictions/1/"),
        ("patch", "/api/predictions/1/"),
        ("get", "/api/models/"),
        ("get", "/api/models/active/"),
    ],
)
def test_history_and_models_are_closed_to_anonymous_and_plain_users(
    api, active_version, django_user_model, method, path
):
    stored(text=FIRE)
    anonymous = getattr(api, method)(path, {"true_label": "disaster"}, format="json")
    assert anonymous.status_code in (401, 403)
    user = django_user_model.objects.create_user("plain", password="pw")
    api.force_authenticate(user)
    assert getattr(api, method)(path, {"true_label": "disaster"}, format="json").status_code == 403
    user.is_staff = True  # staff without the model permission is still kept out
    user.save()
    assert getattr(api, method)(path, {"true_label": "disaster"}, format="json").status_code == 403


def test_token_authentication_for_scripts(api, active_version, django_user_model):
    user = django_user_model.objects.create_user("script", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_prediction"))
    token = Token.objects.create(user=user)
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert api.get("/api/predictions/").status_code == 200
    api.credentials(HTTP_AUTHORIZATION="Token wrong")
    assert api.get("/api/predictions/").status_code == 401


def test_history_lists_newest_first_with_reviews(staff_api, active_version):
    first = stored(text="Flooding downtown")
    second = stored(text=FIRE)
    services.prediction_relabel(
        prediction=first, true_label=Label.DISASTER, reviewer=staff_api.user
    )
    body = staff_api.get("/api/predictions/").json()
    assert body["count"] == 2
    assert [r["id"] for r in body["results"]] == [second.pk, first.pk]
    assert body["results"][1]["true_label"] == "disaster"
    assert body["results"][1]["reviewed_by"] == "admin"
    assert body["results"][1]["reviewed_at"]
    assert body["results"][0]["true_label"] is None


def test_history_filters_and_orderings(staff_api, make_version):
    make_version("v1")
    a = stored(text="Forest fire near La Ronge, evacuation ordered")
    b = stored(text="I love sunny afternoons")
    make_version("v2")
    c = stored(text="Earthquake shakes the city, buildings collapse")
    services.prediction_relabel(prediction=b, true_label=Label.DISASTER, reviewer=staff_api.user)

    def ids(query: str) -> list[int]:
        response = staff_api.get(f"/api/predictions/?{query}")
        assert response.status_code == 200, response.content
        return [r["id"] for r in response.json()["results"]]

    assert set(ids("reviewed=true")) == {b.pk}
    assert set(ids("reviewed=false")) == {a.pk, c.pk}
    assert set(ids("true_label=disaster")) == {b.pk}
    assert set(ids("model_version=v2")) == {c.pk}
    assert set(ids("search=SUNNY")) == {b.pk}
    disasters = {p.pk for p in (a, b, c) if p.predicted_label == Label.DISASTER}
    assert set(ids("label=disaster")) == disasters
    assert ids("ordering=created") == [a.pk, b.pk, c.pk]
    assert ids("ordering=-created") == [c.pk, b.pk, a.pk]
    by_probability = sorted((a, b, c), key=lambda p: p.probability)
    assert ids("ordering=probability") == [p.pk for p in by_probability]
    by_margin = sorted((a, b, c), key=lambda p: abs(p.probability - p.threshold))
    assert ids("ordering=uncertainty") == [p.pk for p in by_margin]
    c_created = Prediction.objects.get(pk=c.pk).created
    after = c_created.isoformat().replace("+00:00", "Z")
    assert ids(f"created_after={after}") == [c.pk]
    assert set(ids(f"created_before={after}")) == {a.pk, b.pk}


@pytest.mark.parametrize(
    "query", ["label=maybe", "reviewed=perhaps", "ordering=random", "created_after=yesterday"]
)
def test_history_bad_filters_are_400(staff_api, active_version, query):
    response = staff_api.get(f"/api/predictions/?{query}")
    assert response.status_code == 400
    assert query.split("=")[0] in response.json()


def test_history_is_paginated(staff_api, active_version):
    services.prediction_create_batch(tweets=[tweet_clean(text=f"tweet {i}") for i in range(60)])
    body = staff_api.get("/api/predictions/").json()
    assert body["count"] == 60 and len(body["results"]) == 50 and body["next"]


def test_detail_and_relabel_record_reviewer_and_time(staff_api, active_version):
    prediction = stored(text=FIRE)
    assert staff_api.get(f"/api/predictions/{prediction.pk}/").json()["id"] == prediction.pk
    response = staff_api.patch(
        f"/api/predictions/{prediction.pk}/", {"true_label": "not_disaster"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["true_label"] == "not_disaster"
    assert response.json()["reviewed_by"] == "admin"
    prediction.refresh_from_db()
    assert prediction.true_label == "not_disaster" and prediction.reviewed_by == staff_api.user
    cleared = staff_api.patch(
        f"/api/predictions/{prediction.pk}/", {"true_label": None}, format="json"
    )
    assert cleared.json()["true_label"] is None
    prediction.refresh_from_db()
    assert prediction.true_label is None and prediction.reviewed_at is None


@pytest.mark.parametrize("body", [{}, {"true_label": "maybe"}, {"true_label": 1}])
def test_relabel_bad_input_is_400_and_changes_nothing(staff_api, active_version, body):
    prediction = stored(text=FIRE)
    response = staff_api.patch(f"/api/predictions/{prediction.pk}/", body, format="json")
    assert response.status_code == 400
    assert "true_label" in response.json()
    prediction.refresh_from_db()
    assert prediction.true_label is None


def test_unknown_prediction_is_404(staff_api, active_version):
    assert staff_api.get("/api/predictions/999/").status_code == 404
    assert (
        staff_api.patch("/api/predictions/999/", {"true_label": None}, format="json").status_code
        == 404
    )


def test_reviewer_with_change_permission_can_relabel(api, active_version, django_user_model):
    reviewer = django_user_model.objects.create_user("rita", password="pw", is_staff=True)
    reviewer.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_prediction", "change_prediction"])
    )
    prediction = stored(text=FIRE)
    api.force_authenticate(reviewer)
    response = api.patch(
        f"/api/predictions/{prediction.pk}/", {"true_label": "disaster"}, format="json"
    )
    assert response.status_code == 200


# --- model versions ------------------------------------------------------------------------------


def test_models_list_and_active(staff_api, make_version):
    make_version("v1")
    make_version("v2", activate=False)
    body = staff_api.get("/api/models/").json()
    assert [m["name"] for m in body["results"]] == ["v2", "v1"]
    assert {"metrics", "threshold", "base_rows", "feedback_rows", "is_active"} <= set(
        body["results"][0]
    )
    active = staff_api.get("/api/models/active/").json()
    assert active["name"] == "v1" and active["is_active"] is True
    assert active["metrics"]["f1"] == 0.8


def test_every_version_carries_its_figures_on_the_current_evaluation_set(staff_api, make_version):
    from django.conf import settings

    make_version("v1")
    services.model_version_train(data_path=settings.SAMPLE_TRAIN_DATA)  # v2, refused
    body = staff_api.get("/api/models/").json()
    (v2, v1) = body["results"]
    for version in (v1, v2):
        evaluation = version["evaluation"]
        assert set(evaluation) == {"set", "n", "f1", "precision", "recall", "accuracy", "roc_auc"}
        assert evaluation["set"] == v2["evaluation"]["set"] and len(evaluation["set"]) == 64
        assert evaluation["n"] == v2["gate"]["evaluation_set"]["n"] > 0
        assert 0 <= evaluation["f1"] <= 1
    assert (v2["is_active"], v2["gate"]["decision"]) == (False, "refused")
    assert v2["gate"]["comparison"]["n"] == v2["evaluation"]["n"]


def test_no_active_model_is_404(staff_api, db):
    assert staff_api.get("/api/models/active/").status_code == 404


# --- schema --------------------------------------------------------------------------------------


def test_openapi_schema_and_docs_are_served(api, db):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    paths = json.loads(schema.content)["paths"]
    assert {"/api/predictions/", "/api/predictions/batch/", "/api/models/active/"} <= set(paths)
    docs = api.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content


def test_relabel_through_the_api_is_in_the_admin_history(staff_api, active_version):
    from django.contrib.admin.models import LogEntry

    prediction = stored(text=FIRE)
    staff_api.patch(f"/api/predictions/{prediction.pk}/", {"true_label": "disaster"}, format="json")
    entry = LogEntry.objects.get(object_id=str(prediction.pk))
    assert entry.user == staff_api.user
    assert "(API)" in entry.change_message


def test_a_batch_at_the_length_limits_in_escaped_unicode_is_accepted(api, active_version):
    items = [{"text": "é" * 1000, "keyword": "é" * 100, "location": "é" * 100}] * 1000
    body = json.dumps({"items": items})  # every é becomes \u00e9: ~7.2 MB
    response = api.generic("POST", "/api/predictions/batch/", body, content_type="application/json")
    assert response.status_code == 201
    assert Prediction.objects.count() == 1000


def test_a_body_over_the_limit_is_a_json_413_naming_it(api, active_version, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    body = json.dumps({"items": [{"text": "x" * 900}] * 20})
    response = api.generic("POST", "/api/predictions/batch/", body, content_type="application/json")
    assert response.status_code == 413
    assert response.json() == {
        "detail": "The request body is over 10,000 bytes; send fewer items per call."
    }
    assert Prediction.objects.count() == 0
