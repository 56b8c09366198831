"""The admin login against password guessing (django-axes, configured in settings): the fifth
failure from one address or for one username is answered 429, and so is every attempt after it,
the right password included, until the cool-off ends."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.utils import timezone

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user("alice", password=PASSWORD, is_staff=True)


def login(client, username: str, password: str, address: str = "192.0.2.10", **headers):
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": username, "password": password},
        REMOTE_ADDR=address,
        **headers,
    )


def fail(client, times: int, username: str = "alice", address: str = "192.0.2.10", **headers):
    """`times` wrong passwords; the statuses answered."""
    return [
        login(client, username, "wrong guess", address, **headers).status_code for _ in range(times)
    ]


def test_four_failures_still_let_the_right_password_in(client, staff):
    assert fail(client, 4) == [200] * 4  # the login form again, with its error
    response = login(client, "alice", PASSWORD)
    assert response.status_code == 302 and response["Location"] == "/admin/"


def test_five_failures_lock_out_even_the_right_password_until_the_cool_off_ends(client, staff):
    assert fail(client, 5) == [200, 200, 200, 200, 429]
    locked = login(client, "alice", PASSWORD)
    assert locked.status_code == 429
    assert b"too many login attempts" in locked.content.lower()
    assert client.get("/admin/").status_code == 302  # not logged in

    # Fifteen minutes later (the attempts are dated back rather than waited for).
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    response = login(client, "alice", PASSWORD)
    assert response.status_code == 302 and response["Location"] == "/admin/"


def test_axes_reset_lifts_the_lockout(client, staff):
    fail(client, 5)
    assert login(client, "alice", PASSWORD).status_code == 429
    call_command("axes_reset", verbosity=0)
    assert login(client, "alice", PASSWORD).status_code == 302


def test_one_address_guessing_many_usernames_is_locked_out(client, staff):
    for name in ("bob", "carol", "dave", "erin", "frank"):
        fail(client, 1, username=name, address="192.0.2.20")
    assert AccessAttempt.objects.filter(ip_address="192.0.2.20").count() == 5
    assert login(client, "alice", PASSWORD, address="192.0.2.20").status_code == 429
    assert login(client, "alice", PASSWORD, address="192.0.2.21").status_code == 302


def test_one_username_guessed_from_many_addresses_is_locked_out(client, staff):
    statuses = [fail(client, 1, address=f"192.0.2.{host}")[0] for host in range(30, 35)]
    assert statuses == [200, 200, 200, 200, 429]
    assert login(client, "alice", PASSWORD, address="192.0.2.99").status_code == 429


def test_behind_the_proxy_the_forwarded_address_is_locked_not_the_proxy(client, staff, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    proxy = "10.0.0.2"  # every request arrives from the proxy's address
    for name in ("bob", "carol", "dave", "erin", "frank"):
        fail(client, 1, username=name, address=proxy, HTTP_X_FORWARDED_FOR="203.0.113.5")
    guesser = login(client, "alice", PASSWORD, proxy, HTTP_X_FORWARDED_FOR="203.0.113.5")
    assert guesser.status_code == 429
    someone_else = login(client, "alice", PASSWORD, proxy, HTTP_X_FORWARDED_FOR="203.0.113.6")
    assert someone_else.status_code == 302
