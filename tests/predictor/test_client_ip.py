"""One rule for the client's address: REMOTE_ADDR, or NUM_PROXIES hops back behind proxies."""

import pytest
from django.test import RequestFactory

from predictor.client_ip import client_ip


@pytest.fixture
def proxies(settings):
    def set_count(count: int) -> None:
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": count}

    return set_count


def request(xff: str | None = None):
    extra = {"HTTP_X_FORWARDED_FOR": xff} if xff is not None else {}
    return RequestFactory().get("/", REMOTE_ADDR="192.0.2.1", **extra)


def test_without_proxies_a_forwarded_header_is_ignored(proxies):
    proxies(0)
    assert client_ip(request("203.0.113.9")) == "192.0.2.1"


def test_behind_one_proxy_the_last_forwarded_entry_is_the_client(proxies):
    proxies(1)
    # The client may send its own X-Forwarded-For; the proxy appends the address it saw.
    assert client_ip(request("198.51.100.7, 203.0.113.9")) == "203.0.113.9"
    assert client_ip(request()) == "192.0.2.1"
