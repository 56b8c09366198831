"""The hot path of POST /api/predictions/ (predictor.api.fast) answers exactly as the full view
does, header for header, and answers only the calls it may: everything else reaches the full
view unchanged."""

from __future__ import annotations

import json

import pytest
from django.core.cache import cache
from django.test import Client
from prometheus_client import REGISTRY

from predictor import middleware
from predictor.models import Prediction

pytestmark = pytest.mark.django_db
URL = "/api/predictions/"


@pytest.fixture
def answered(monkeypatch) -> list[bool]:
    """Whether the fast path answered each call that reached it (True) or left it (False)."""
    calls: list[bool] = []
    real = middleware.fast.prediction_create_fast

    def spy(request):
        response = real(request)
        calls.append(response is not None)
        return response

    monkeypatch.setattr(middleware.fast, "prediction_create_fast", spy)
    return calls


def post(body: bytes, content_type: str = "application/json", **headers: str):
    return Client().generic("POST", URL, body, content_type=content_type, **headers)


def comparable(response) -> tuple:
    """Status, headers and body, without what differs between two stored predictions."""
    headers = {k: v for k, v in response.headers.items() if k not in ("Date", "Content-Length")}
    content = response.content
    if response["Content-Type"] == "application/json":
        data = json.loads(content)
        if isinstance(data, dict) and "created" in data:
            data = {**data, "id": 0, "created": ""}
        content = data
    return response.status_code, headers, content


def both_paths(settings, body: bytes, content_type: str = "application/json", **headers: str):
    settings.PREDICTION_FAST_PATH = True
    fast = post(body, content_type, **headers)
    settings.PREDICTION_FAST_PATH = False
    full = post(body, content_type, **headers)
    for response in (fast, full):
        if "Content-Length" in response.headers:
            assert int(response["Content-Length"]) == len(response.content)
    return fast, full


VALID = [
    b'{"text": "Forest fire near La Ronge Sask. Canada"}',
    b'{"text": "  Flood warning  ", "keyword": "flood", "location": "Leeds, UK"}',
    b'{"text": "Earthquake \\u2028 line and \\u00e9 accent \xf0\x9f\x94\xa5", "keyword": null}',
    b'{"text": "extra fields are ignored", "extra": [1, 2, {"a": null}]}',
]
INVALID = [
    b'{"keyword": "fire"}',
    b'{"text": ""}',
    b'{"text": "   "}',
    b'{"text": 12}',
    b'{"text": "ok", "location": ["a"]}',
    b'{"text": "' + b"x" * 1001 + b'"}',
    b'{"text": "a\\u0000b"}',
    b'{"text": "lone \\ud800 surrogate"}',
    b'{"text": NaN}',
    b'{"text": "fire"',
    b"[" * 5000 + b"]" * 5000,
    b'["text"]',
    b'"text"',
    b"{}",
    b"\xff\xfe{}",
    b"",
]


@pytest.mark.parametrize("body", VALID)
def test_a_valid_tweet_gets_the_full_views_answer_from_the_fast_path(
    body, settings, active_version, answered
):
    fast, full = both_paths(settings, body)
    assert answered == [True]
    assert fast.status_code == 201
    assert comparable(fast) == comparable(full)
    assert Prediction.objects.count() == 2


@pytest.mark.parametrize("body", INVALID)
def test_an_invalid_body_is_answered_by_the_full_view(body, settings, active_version, answered):
    fast, full = both_paths(settings, body)
    assert answered == [False]
    assert fast.status_code == 400
    assert comparable(fast) == comparable(full)
    assert not Prediction.objects.exists()


@pytest.mark.parametrize(
    ("content_type", "headers"),
    [
        ("application/json; charset=utf-8", {}),
        ("application/json", {"HTTP_ACCEPT": "application/json"}),
        ("application/json; charset=latin-1", {}),
        ("text/plain", {}),
        ("application/x-www-form-urlencoded", {}),
        ("application/json", {"HTTP_ACCEPT": "text/html"}),
        ("application/json", {"HTTP_ACCEPT": "application/json; indent=4"}),
        ("application/json", {"HTTP_AUTHORIZATION": "Token not-a-token"}),
        ("application/json", {"HTTP_COOKIE": "sessionid=not-a-session"}),
        ("application/json", {"QUERY_STRING": "format=json"}),
        ("application/json", {"HTTP_HOST": "evil.example"}),
    ],
)
def test_other_calls_get_the_same_answer_either_way(
    content_type, headers, settings, active_version, answered
):
    body = b'{"text": "Forest fire near La Ronge"}'
    fast, full = both_paths(settings, body, content_type, **headers)
    assert comparable(fast) == comparable(full)
    eligible = content_type.startswith("application/json; charset=utf-8") or headers == {
        "HTTP_ACCEPT": "application/json"
    }
    assert answered == [eligible]


def test_each_call_is_counted_once_by_the_throttle(settings, active_version, answered):
    settings.PREDICTION_THROTTLE_RATE = "3/hour"
    cache.clear()
    statuses = [post(b'{"text": "Wildfire"}').status_code for _ in range(5)]
    assert statuses == [201, 201, 201, 429, 429]
    assert answered == [True, True, True, False, False]
    refused = post(b'{"text": "Wildfire"}')
    assert 0 < int(refused["Retry-After"]) <= 3600
    assert refused.json()["detail"].startswith("Request was throttled.")


def test_a_call_left_to_the_full_view_is_not_counted_twice(settings, db, answered):
    settings.PREDICTION_THROTTLE_RATE = "2/hour"
    cache.clear()
    # No model: the fast path counts each call, then leaves it to the full view's 503.
    assert [post(b'{"text": "Wildfire"}').status_code for _ in range(3)] == [503, 503, 429]
    assert answered == [False, False, False]


def test_a_throttled_call_gets_the_full_views_429(settings, active_version):
    settings.PREDICTION_THROTTLE_RATE = "1/hour"
    cache.clear()
    settings.PREDICTION_FAST_PATH = True
    fast = [post(b'{"text": "Wildfire"}') for _ in range(2)][1]
    cache.clear()
    settings.PREDICTION_FAST_PATH = False
    full = [post(b'{"text": "Wildfire"}') for _ in range(2)][1]
    assert fast.status_code == full.status_code == 429
    fast_headers, full_headers = comparable(fast)[1], comparable(full)[1]
    assert fast_headers.keys() == full_headers.keys()
    assert fast.json().keys() == full.json().keys()


def test_no_model_is_the_full_views_503(settings, db, answered):
    fast, full = both_paths(settings, b'{"text": "Wildfire"}')
    assert answered == [False]
    assert fast.status_code == 503
    assert comparable(fast) == comparable(full)


def test_the_request_metrics_name_the_view(settings, active_version, answered):
    labels = {"status": "201", "view": "api:prediction-list", "method": "POST"}
    name = "django_http_responses_total_by_status_view_method_total"
    before = REGISTRY.get_sample_value(name, labels) or 0.0
    post(b'{"text": "Wildfire"}')
    assert answered == [True]
    assert REGISTRY.get_sample_value(name, labels) == before + 1
