"""Property-based tests of the web form: any text in any field is a verdict (200), the form
again with errors (400), never a 500."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from predictor.models import Prediction
from tests.predictor.strategies import any_text


@pytest.mark.django_db
@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(message=any_text, keyword=any_text, location=any_text)
def test_the_form_answers_any_text_with_200_or_400(
    client, active_version, message, keyword, location
):
    before = Prediction.objects.count()
    # Lone surrogates cannot be URL-encoded as UTF-8; a browser would send replacement characters.
    fields = {
        name: value.encode("utf-8", "replace").decode("utf-8")
        for name, value in (("message", message), ("keyword", keyword), ("location", location))
    }
    response = client.post("/", fields)
    assert response.status_code in (200, 400)
    assert Prediction.objects.count() == before + (response.status_code == 200)
