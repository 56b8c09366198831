"""The client's address, by one rule for everything that counts per client (API throttles,
login lockouts): REMOTE_ADDR, or NUM_PROXIES hops back in X-Forwarded-For behind proxies."""

from django.http import HttpRequest
from rest_framework.throttling import BaseThrottle


def client_ip(request: HttpRequest) -> str | None:
    return BaseThrottle().get_ident(request)
