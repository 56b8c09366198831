"""Security headers on real responses of every kind of page, no inline script or style in what we
serve (the Content-Security-Policy forbids them), and HTTPS-only cookies behind the TLS proxy."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from rest_framework.test import APIClient

from tests.disaster_site.production import run_production

pytestmark = pytest.mark.django_db


def csp_directives(header: str) -> dict[str, list[str]]:
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def assert_security_headers(response) -> None:
    csp = csp_directives(response["Content-Security-Policy"])
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'"]  # no 'unsafe-inline', no 'unsafe-eval', no hosts
    assert csp["style-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["form-action"] == ["'self'"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


@pytest.mark.parametrize(
    "path",
    ["/", "/admin/login/", "/api/docs/", "/api/docs/?script=", "/api/schema/", "/no/such/page"],
)
def test_pages_carry_the_security_headers(client, path):
    response = client.get(path)
    assert response.status_code in (200, 404)
    assert_security_headers(response)


def test_api_answers_carry_them_too(active_version, django_user_model):
    api = APIClient()
    assert_security_headers(api.post("/api/predictions/", {"text": "Fire!"}, format="json"))
    assert_security_headers(api.get("/api/predictions/"))  # 401
    assert_security_headers(api.post("/api/predictions/", {"text": ""}, format="json"))  # 400


def test_the_form_answer_and_its_503_carry_them(client, db):
    assert_security_headers(client.post("/", {"message": "Fire!"}))  # no model: 503


class _InlineCode(HTMLParser):
    """Collects <script> elements without src (other than JSON data), <style> elements, style=
    and on...= attributes: what a CSP without 'unsafe-inline' refuses to run or apply."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        inline = tag == "script" and "src" not in attributes
        if inline and attributes.get("type") != "application/json":
            self.found.append(f"inline <script {attrs}>")
        if tag == "style":
            self.found.append("<style> element")
        for name in attributes:
            if name == "style" or name.startswith("on"):
                self.found.append(f"<{tag} {name}=...>")


def inline_code(html: str) -> list[str]:
    parser = _InlineCode()
    parser.feed(html)
    return parser.found


@pytest.fixture
def pages(active_version) -> list[str]:
    from predictor.services import prediction_create
    from predictor.tweets import tweet_clean

    prediction = prediction_create(
        tweet=tweet_clean(text="Flood warning for the river valley"), source="api"
    )
    return [
        "/",
        "/admin/",
        "/admin/predictor/prediction/",
        f"/admin/predictor/prediction/{prediction.pk}/change/",
        f"/admin/predictor/prediction/{prediction.pk}/history/",
        "/admin/predictor/prediction/review/",
        "/admin/predictor/prediction/dashboard/",
        "/admin/predictor/modelversion/",
        f"/admin/predictor/modelversion/{active_version.pk}/change/",
        "/admin/auth/user/add/",
        "/api/docs/",
    ]


def test_no_page_has_inline_script_or_style(admin_client, pages):
    for path in pages:
        response = admin_client.get(path)
        assert response.status_code == 200, path
        assert inline_code(response.content.decode()) == [], path


def test_the_admin_login_page_has_none_either(client):
    assert inline_code(client.get("/admin/login/").content.decode()) == []


def test_swagger_ui_loads_its_start_up_script_from_the_server(client):
    page = client.get("/api/docs/").content.decode()
    assert 'src="/api/docs/?script="' in page
    script = client.get("/api/docs/?script=")
    assert script["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle" in script.content


# --- HTTPS behind the proxy: settings are read at import, so in a fresh process ------------------

_HTTPS_PROBE = """
import django
django.setup()
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.test.utils import override_settings

# Pages name static files; without collectstatic, serve those names as they are.
override_settings(
    STORAGES={"staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
).enable()
call_command("migrate", verbosity=0)
get_user_model().objects.create_user("alice", password="correct horse battery", is_staff=True)
plain = Client().get("/admin/login/")
print("plain", plain.status_code, plain.get("Location"))
client = Client(headers={"X-Forwarded-Proto": "https"})
page = client.get("/admin/login/")
print("hsts", page.get("Strict-Transport-Security"))
print("csrf-cookie-secure", page.cookies["csrftoken"]["secure"])
login = client.post(
    "/admin/login/",
    {"username": "alice", "password": "correct horse battery",
     "csrfmiddlewaretoken": page.cookies["csrftoken"].value},
)
print("login", login.status_code)
print("session-cookie-secure", login.cookies["sessionid"]["secure"])
print("session-cookie-httponly", login.cookies["sessionid"]["httponly"])
"""


def test_behind_the_tls_proxy_cookies_are_secure_and_http_is_redirected(tmp_path):
    result = run_production(
        tmp_path,
        "-c",
        _HTTPS_PROBE,
        ALLOWED_HOSTS="testserver",
        BEHIND_TLS_PROXY="1",
        NUM_PROXIES="1",
    )
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines())
    assert lines["plain"] == "301 https://testserver/admin/login/"
    assert lines["hsts"] == "max-age=31536000; includeSubDomains"
    assert lines["csrf-cookie-secure"] == "True"
    assert lines["login"] == "302"
    assert lines["session-cookie-secure"] == "True"
    assert lines["session-cookie-httponly"] == "True"
