"""Who may read and change history and models, per endpoint and per role: the API through
StaffModelPermissions, the admin pages through Django's model permissions."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from predictor.models import Prediction

pytestmark = pytest.mark.django_db

ROLES = [
    "anonymous",
    "plain user",
    "staff without permissions",
    "reviewer",
    "superuser",
    "reviewer token",
    "plain user token",
    "wrong token",
]


def make_user(django_user_model, role: str):
    """The account behind `role` (None for anonymous and a wrong token); no password, so no
    slow hashing: the tests log in with force_login or a token."""
    if role in ("anonymous", "wrong token"):
        return None
    if role == "superuser":
        return django_user_model.objects.create_superuser("root", "root@example.com", None)
    user = django_user_model.objects.create_user(role.replace(" ", "-"))
    if role.startswith("plain user"):
        return user
    user.is_staff = True
    user.save()
    if role.startswith("reviewer"):
        user.groups.add(Group.objects.get(name="Reviewers"))
    return user


@pytest.fixture
def as_role(django_user_model):
    def client_for(role: str) -> APIClient:
        client = APIClient()
        user = make_user(django_user_model, role)
        if role.endswith("token"):
            key = Token.objects.create(user=user).key if user else "0" * 40
            client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        elif user is not None:
            client.force_login(user)  # a session, as the browser has after the admin login
        return client

    return client_for


@pytest.fixture
def prediction(make_prediction) -> Prediction:
    return make_prediction("Flooding downtown, roads closed")


def expected_status(role: str, *, allowed: int, reviewer_may: bool = True) -> int:
    if role in ("anonymous", "wrong token"):
        return 401
    if role == "superuser" or (role.startswith("reviewer") and reviewer_may):
        return allowed
    return 403


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("method", "path", "body", "allowed", "reviewer_may"),
    [
        ("get", "/api/predictions/", None, 200, True),
        ("get", "/api/predictions/{id}/", None, 200, True),
        ("patch", "/api/predictions/{id}/", {"true_label": "disaster"}, 200, True),
        ("get", "/api/models/", None, 200, True),
        ("get", "/api/models/active/", None, 404, True),  # let through; no version is active
        # Nobody deletes or replaces history, not even a superuser (reviewers lack the delete
        # permission, so they are refused before the method is).
        ("delete", "/api/predictions/{id}/", None, 405, False),
        ("put", "/api/predictions/{id}/", {"true_label": "disaster"}, 405, True),
    ],
)
def test_history_and_models_need_the_right_account(
    as_role, prediction, role, method, path, body, allowed, reviewer_may
):
    client = as_role(role)
    response = getattr(client, method)(path.format(id=prediction.pk), body, format="json")
    expected = expected_status(role, allowed=allowed, reviewer_may=reviewer_may)
    assert response.status_code == expected, response.content
    if response.status_code == 401:
        assert response["WWW-Authenticate"] == "Token"
    prediction.refresh_from_db()
    changed = prediction.true_label is not None
    assert changed == (method == "patch" and response.status_code == 200)


@pytest.mark.parametrize("role", ROLES[:6])
def test_anyone_may_predict(as_role, active_version, role):
    client = as_role(role)
    single = client.post("/api/predictions/", {"text": "Wildfire near the town"}, format="json")
    batch = client.post("/api/predictions/batch/", {"items": [{"text": "Storm"}]}, format="json")
    assert (single.status_code, batch.status_code) == (201, 201)


def test_a_wrong_token_is_refused_even_for_predictions(as_role, active_version):
    # A caller who sends credentials gets them checked, rather than silently served anonymously.
    response = as_role("wrong token").post("/api/predictions/", {"text": "Storm"}, format="json")
    assert response.status_code == 401


def test_a_session_relabel_needs_the_csrf_token(django_user_model, prediction):
    reviewer = make_user(django_user_model, "reviewer")
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(reviewer)
    response = client.patch(
        f"/api/predictions/{prediction.pk}/", {"true_label": "disaster"}, format="json"
    )
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    prediction.refresh_from_db()
    assert prediction.true_label is None


# --- the admin ---------------------------------------------------------------------------------

ADMIN_PAGES = {
    # path: (reviewer's status, superuser's status)
    "/admin/predictor/prediction/": (200, 200),
    "/admin/predictor/prediction/{id}/change/": (200, 200),
    "/admin/predictor/prediction/{id}/history/": (200, 200),
    "/admin/predictor/prediction/review/": (200, 200),
    "/admin/predictor/prediction/dashboard/": (200, 200),
    "/admin/predictor/modelversion/": (200, 200),
    "/admin/auth/user/": (403, 200),
    "/admin/authtoken/tokenproxy/": (403, 200),
}


@pytest.mark.parametrize("role", ["anonymous", "plain user", "staff without permissions"])
@pytest.mark.parametrize("page", ADMIN_PAGES)
def test_admin_pages_are_closed_without_a_permitted_staff_account(
    client, django_user_model, prediction, role, page
):
    user = make_user(django_user_model, role)
    if user is not None:
        client.force_login(user)
    response = client.get(page.format(id=prediction.pk))
    if role == "staff without permissions":
        assert response.status_code == 403
    else:
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("role", ["reviewer", "superuser"])
@pytest.mark.parametrize("page", ADMIN_PAGES)
def test_admin_pages_for_reviewers_and_superusers(
    client, django_user_model, prediction, role, page
):
    client.force_login(make_user(django_user_model, role))
    response = client.get(page.format(id=prediction.pk))
    assert response.status_code == ADMIN_PAGES[page][role == "superuser"]


def test_a_token_does_not_open_the_admin(client, django_user_model):
    user = make_user(django_user_model, "superuser")
    token = Token.objects.create(user=user)
    response = client.get("/admin/predictor/prediction/", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 302
