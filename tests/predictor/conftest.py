"""Fixtures of the review tests: stored predictions without a model, the kinds of users that meet
the admin (reviewer, staff without permissions, plain user), and double review's reviewers."""

from __future__ import annotations

from datetime import datetime

import pytest

from predictor import services
from predictor.models import Label, ModelVersion, Prediction, Source
from tests.conftest import reviewers_group


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


@pytest.fixture
def users(django_user_model):
    """Three staff reviewers in the Reviewers group: ana, ben, cy."""
    made = {}
    for name in ("ana", "ben", "cy"):
        user = django_user_model.objects.create_user(name, password="pw-" + name, is_staff=True)
        user.groups.add(reviewers_group())
        made[name] = user
    return made


@pytest.fixture
def always_double(settings):
    """Every first review given in the queue or the API is drawn for a second reviewer."""
    settings.DOUBLE_REVIEW_SHARE = 1


def review(prediction, user, label, *, via="review queue", shown=None, double=True, rng=None):
    """One label through the service, as the queue gives it (one item, double review)."""
    return services.prediction_review(
        predictions=Prediction.objects.filter(pk=prediction.pk),
        true_label=label,
        reviewer=user,
        via=via,
        explanation_shown=shown,
        double_review=double,
        rng=rng,
    )
