"""Data migrations run for real: migrate back, store rows the old schema had, migrate forward."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("predictor", "0006_jobs")]
AFTER = [("predictor", "0007_double_review")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_double_review_backfills_one_first_review_per_reviewed_prediction():
    apps = migrate(BEFORE)
    try:
        User = apps.get_model("auth", "User")
        ModelVersion = apps.get_model("predictor", "ModelVersion")
        Prediction = apps.get_model("predictor", "Prediction")
        ana = User.objects.create(username="ana")
        version = ModelVersion.objects.create(
            name="v1", artifact_path="v1.joblib", sha256="0" * 64, threshold=0.5
        )
        when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
        common = {"probability": 0.7, "predicted_label": "disaster", "threshold": 0.5}
        reviewed = Prediction.objects.create(
            text="reviewed",
            model_version=version,
            source="api",
            true_label="not_disaster",
            reviewed_by=ana,
            reviewed_at=when,
            **common,
        )
        Prediction.objects.create(
            text="not reviewed", model_version=version, source="api", **common
        )

        apps = migrate(AFTER)
        Review = apps.get_model("predictor", "Review")
        (review,) = Review.objects.all()
        assert review.prediction_id == reviewed.pk
        assert (review.reviewer_id, review.label, review.kind) == (ana.pk, "not_disaster", "first")
        assert review.created == when and review.explanation_shown is None
        assert (
            apps.get_model("predictor", "Prediction").objects.filter(second_review="").count() == 2
        )

        migrate(BEFORE)  # and back: the backfilled rows go with the table
    finally:
        # Every later migration too: the tests after this one use the whole schema.
        executor = MigrationExecutor(connection)
        migrate(executor.loader.graph.leaf_nodes())
