"""A database that refuses writes: the API answers 503 with a message, stores nothing half-way,
and works again once the database does."""

from __future__ import annotations

from rest_framework.test import APIClient

from predictor.models import Prediction

FIRE = "Forest fire near La Ronge Sask. Canada"


def assert_database_unavailable(response) -> None:
    assert response.status_code == 503, response.content
    assert "database cannot take this request" in response.json()["detail"]
    assert "nothing was stored" in response.json()["detail"]


def test_predictions_are_503_while_the_database_refuses_writes(
    read_only_database, active_version, caplog
):
    api = APIClient()
    with read_only_database():
        assert_database_unavailable(api.post("/api/predictions/", {"text": FIRE}, format="json"))
        batch = {"items": [{"text": f"tweet {i}"} for i in range(300)]}
        assert_database_unavailable(api.post("/api/predictions/batch/", batch, format="json"))
    assert Prediction.objects.count() == 0  # not one row of the batch
    assert "database unavailable in PredictionBatchView" in caplog.text
    # The database takes writes again: so does the API, without a restart.
    assert api.post("/api/predictions/", {"text": FIRE}, format="json").status_code == 201
    assert api.post("/api/predictions/batch/", batch, format="json").status_code == 201
    assert Prediction.objects.count() == 301


def test_history_reads_go_on_and_relabels_are_503(read_only_database, active_version, reviewer_api):
    prediction = APIClient().post("/api/predictions/", {"text": FIRE}, format="json").json()
    path = f"/api/predictions/{prediction['id']}/"
    with read_only_database():
        assert reviewer_api.get("/api/predictions/").json()["count"] == 1
        assert_database_unavailable(
            reviewer_api.patch(path, {"true_label": "disaster"}, format="json")
        )
    assert Prediction.objects.get().true_label is None
    assert reviewer_api.patch(path, {"true_label": "disaster"}, format="json").status_code == 200
