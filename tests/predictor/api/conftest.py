"""API clients of the API tests: anonymous, and a reviewer (staff who may view and relabel)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def reviewer_api(reviewer) -> APIClient:
    client = APIClient()
    client.force_authenticate(reviewer)
    return client
