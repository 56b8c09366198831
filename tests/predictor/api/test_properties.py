"""Property-based tests of the API with hostile input: arbitrary JSON bodies and fields, raw bytes,
deep nesting, odd query strings. Never a 500; a 201 stores exactly one row per answer, anything
else stores nothing."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from predictor.models import Prediction
from tests.predictor.strategies import any_char, json_value, tweet_json

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(autouse=True)
def _no_throttle(settings):
    settings.PREDICTION_THROTTLE_RATE = "none"


def _utf8_with_surrogates(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def post_json(api: APIClient, path: str, body, method: str = "POST") -> tuple[int, object]:
    # ensure_ascii keeps lone surrogates as \ud800 escapes: valid JSON text, invalid Unicode.
    # NaN and Infinity go out as Python's json writes them (and reads them back).
    raw = json.dumps(body, ensure_ascii=True).encode()
    response = api.generic(method, path, raw, content_type="application/json")
    return response.status_code, response.json()


@FUZZ
@given(body=tweet_json)
def test_predict_with_any_json_is_201_or_400(api, active_version, body):
    before = Prediction.objects.count()
    status, answer = post_json(api, "/api/predictions/", body)
    assert status in (201, 400), answer
    if status == 201:
        assert Prediction.objects.get(pk=answer["id"]).text == body["text"].strip()
        assert Prediction.objects.count() == before + 1
    else:
        assert isinstance(answer, dict) and answer
        assert Prediction.objects.count() == before


@FUZZ
@given(items=st.lists(tweet_json, max_size=5) | json_value)
def test_batch_with_any_json_is_201_or_400_and_all_or_nothing(api, active_version, items):
    before = Prediction.objects.count()
    status, answer = post_json(api, "/api/predictions/batch/", {"items": items})
    assert status in (201, 400), answer
    stored = Prediction.objects.count() - before
    assert stored == (len(answer["results"]) if status == 201 else 0)


@FUZZ
@given(raw=st.binary(max_size=300) | st.text(any_char, max_size=300).map(_utf8_with_surrogates))
def test_predict_with_any_bytes_is_never_a_server_error(api, active_version, raw):
    response = api.generic("POST", "/api/predictions/", raw, content_type="application/json")
    assert response.status_code in (201, 400), response.content


@pytest.mark.parametrize("depth", [100, 1_000, 100_000])
@pytest.mark.parametrize("path", ["/api/predictions/", "/api/predictions/batch/"])
def test_deeply_nested_json_is_a_400(api, active_version, path, depth):
    raw = ('{"text": ' + "[" * depth + "]" * depth + "}").encode()
    response = api.generic("POST", path, raw, content_type="application/json")
    assert response.status_code == 400
    assert "detail" in response.json() or "text" in response.json() or "items" in response.json()


QUERY_KEYS = [
    "label", "true_label", "reviewed", "model_version", "source", "search", "ordering",
    "created_after", "created_before", "page", "page_size", "unknown",
]  # fmt: skip


@FUZZ
@given(query=st.dictionaries(st.sampled_from(QUERY_KEYS), st.text(any_char, max_size=30)))
def test_history_with_any_query_is_200_400_or_404(reviewer_api, active_version, query):
    # Percent-encode as a client would; a lone surrogate becomes bytes that are not UTF-8.
    encoded = urlencode(query, encoding="utf-8", errors="surrogatepass")
    response = reviewer_api.get(f"/api/predictions/?{encoded}")
    assert response.status_code in (200, 400, 404), response.content


@FUZZ
@given(body=json_value, pk=st.integers(min_value=-(2**70), max_value=2**70))
def test_relabel_with_any_json_or_id_is_never_a_server_error(
    reviewer_api, active_version, body, pk
):
    status, answer = post_json(reviewer_api, f"/api/predictions/{abs(pk)}/", body, "PATCH")
    assert status in (200, 400, 404), answer
