"""The prediction throttle on a real Redis cache, as several workers and instances share it."""

import socket

import pytest
from django.core.cache import caches
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db
REDIS_URL = "redis://127.0.0.1:6379/15"


def redis_is_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.fixture
def redis_cache(settings):
    if not redis_is_up():
        pytest.skip("no Redis server on 127.0.0.1:6379")
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "disaster-test",
        }
    }
    caches["default"].clear()
    yield caches["default"]
    caches["default"].clear()


def test_throttle_state_lives_in_redis_and_is_shared(redis_cache, active_version, settings):
    settings.PREDICTION_THROTTLE_RATE = "2/day"
    first, second = APIClient(), APIClient()  # two "workers": only the cache is shared
    body = {"text": "Flooding downtown"}
    assert first.post("/api/predictions/", body, format="json").status_code == 201
    assert second.post("/api/predictions/", body, format="json").status_code == 201
    refused = first.post("/api/predictions/", body, format="json")
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    keys = redis_cache._cache.get_client().keys("disaster-test:*throttle:predictions:127.0.0.1*")
    assert len(keys) == 1
