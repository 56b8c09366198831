"""Fixtures of the review tests: stored predictions without a model, and the kinds of users that
meet the admin (reviewer, staff without permissions, plain user)."""

from __future__ import annotations

from datetime import datetime

import pytest

from predictor.models import Label, ModelVersion, Prediction, Source


@pytest.fixture
def make_prediction(make_version):
    """Factory: a stored prediction; the label follows the probability and the threshold."""
    default_version: list[ModelVersion] = []

    def make(
        text: str = "Forest fire near La Ronge Sask. Canada",
        *,
        probability: float = 0.7,
        version: ModelVersion | None = None,
        true_label: str | None = None,
        reviewed_by=None,
        reviewed_at: datetime | None = None,
        created: datetime | None = None,
        **fields,
    ) -> Prediction:
        if version is None:
            if not default_version:
                default_version.append(
                    ModelVersion.objects.filter(name="v1").first()
                    or make_version("v1", artifact=False)
                )
            version = default_version[0]
        prediction = Prediction(
            text=text,
            probability=probability,
            threshold=version.threshold,
            predicted_label=Label.for_probability(probability, version.threshold),
            model_version=version,
            source=fields.pop("source", Source.API),
            true_label=true_label,
            reviewed_by=reviewed_by,
            reviewed_at=reviewed_at,
            **fields,
        )
        if created is not None:
            prediction.created = created
        prediction.save()
        return prediction

    return make


@pytest.fixture
def reviewer_client(client, reviewer):
    client.force_login(reviewer)
    return client


@pytest.fixture
def staff_client(client, django_user_model):
    """Staff, but with no permissions at all."""
    user = django_user_model.objects.create_user("sam", password="staff-pass-123", is_staff=True)
    client.force_login(user)
    return client


@pytest.fixture
def plain_client(client, django_user_model):
    """Logged in, not staff."""
    user = django_user_model.objects.create_user("pat", password="plain-pass-123")
    client.force_login(user)
    return client


@pytest.fixture
def read_only_database(transactional_db):
    """A context manager that makes the database refuse writes on this connection, for real:
    SQLite's query_only pragma, PostgreSQL's read-only transactions."""
    from contextlib import contextmanager

    from django.db import connection

    def set_read_only(on: bool) -> None:
        with connection.cursor() as cursor:
            if connection.vendor == "sqlite":
                cursor.execute(f"PRAGMA query_only = {'ON' if on else 'OFF'}")
            else:
                mode = "READ ONLY" if on else "READ WRITE"
                cursor.execute(f"SET SESSION CHARACTERISTICS AS TRANSACTION {mode}")

    @contextmanager
    def read_only():
        set_read_only(True)
        try:
            yield
        finally:
            set_read_only(False)

    return read_only
