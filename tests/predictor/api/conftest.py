"""API clients of the API tests: anonymous, and a reviewer (staff who may view and relabel)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def reviewer_api(django_user_model) -> APIClient:
    user = django_user_model.objects.create_user("rita", is_staff=True)
    # The Reviewers group's permissions, given directly: flushing the database between
    # transactional tests removes the group its migration made.
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_prediction", "change_prediction"])
    )
    client = APIClient()
    client.force_authenticate(user)
    return client
