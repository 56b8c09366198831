"""Security on the production configuration (`make serve`: gunicorn, whitenoise, DEBUG off):
headers on real responses, nothing but static files served from disk (raw paths, byte for byte),
and the admin login lockout with its documented reset."""

from __future__ import annotations

import http.client
import re

import pytest

from tests.reliability.load import Browser

pytestmark = pytest.mark.reliability


def raw_get(server, path: str) -> tuple[int, dict[str, str], bytes]:
    """GET `path` exactly as written (http.client does not normalise '..' or %2e)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.putrequest("GET", path, skip_accept_encoding=True)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


@pytest.mark.parametrize(
    "path", ["/", "/admin/login/", "/api/docs/", "/api/docs/?script=", "/readyz", "/nowhere"]
)
def test_real_responses_carry_the_security_headers(api_server, path):
    server, _ = api_server
    status, headers, _ = raw_get(server, path)
    assert status in (200, 404)
    policy = headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"


def test_static_files_are_served_and_nothing_else_from_disk(api_server):
    server, _ = api_server
    _, _, home = raw_get(server, "/")
    stylesheet = re.search(rb'href="(/static/css/site\.[0-9a-f]+\.css)"', home).group(1).decode()
    assert raw_get(server, stylesheet)[0] == 200  # whitenoise does serve static files
    artifact = next((server.data_dir / "models").glob("*.joblib")).name
    for path in [
        "/var/db.sqlite3",
        "/db.sqlite3",
        "/data/sample_tweets.csv",
        f"/models/{artifact}",
        f"/static/../models/{artifact}",
        "/static/../db.sqlite3",
        "/static/%2e%2e/db.sqlite3",
        "/static/..%2f..%2fdisaster_site/settings.py",
        "/static/../../manage.py",
        "/.env",
        "/.git/config",
    ]:
        status, _, body = raw_get(server, path)
        assert status in (400, 404), path
        assert b"SQLite format 3" not in body and b"SECRET_KEY" not in body, path


def test_admin_login_locks_out_after_five_failures_until_axes_reset(api_server):
    server, _ = api_server
    browser = Browser(server)
    page = "/admin/login/?next=/admin/"
    statuses = [
        browser.submit(page, {"username": "ops", "password": f"guess-{n}"})[0] for n in range(5)
    ]
    assert statuses == [200, 200, 200, 200, 429]
    right = {"username": "ops", "password": "a-long-test-password-1234"}
    assert browser.submit(page, right)[0] == 429
    reset = server.manage("axes_reset")
    assert reset.returncode == 0, reset.stderr
    status, _, response = browser.submit(page, right)
    assert (status, response.getheader("Location")) == (302, "/admin/")
