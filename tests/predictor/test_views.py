"""Operations probes: /healthz and /readyz."""

import pytest

from predictor.models import Prediction


def test_healthz_answers_whatever_the_host_header(client):
    response = client.get("/healthz", HTTP_HOST="10.0.3.7:8000")
    assert response.status_code == 200
    assert response.content == b"ok\n"


@pytest.mark.django_db
def test_readyz_is_503_without_a_model(client):
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["reason"] == "no model is active"


def test_readyz_is_200_with_an_active_model(client, active_version):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "model_version": "v1"}


@pytest.mark.django_db
def test_readyz_is_503_without_the_databases_words_when_it_fails(client, monkeypatch, caplog):
    from django.db import OperationalError, connection

    def broken():
        raise OperationalError("unable to open database file /srv/secret/db.sqlite3")

    monkeypatch.setattr(connection, "cursor", broken)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "reason": "database unavailable"}
    assert "/srv/secret/db.sqlite3" in caplog.text


def test_favicon_ico_redirects_to_the_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"] == "/static/favicon.svg"


FIRE = "Forest fire near La Ronge Sask. Canada"


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/index"])
def test_form_page_has_the_old_fields_labels_and_csrf(client, path):
    response = client.get(path)
    assert response.status_code == 200
    html = response.content.decode()
    for name in ("keyword", "location", "message"):
        assert f'name="{name}"' in html
        assert f'for="id_{name}"' in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert html.count("<h1") == 1
    assert '<html lang="en">' in html


@pytest.mark.parametrize("path", ["/", "/predict"])
def test_form_post_shows_verdict_probability_and_keeps_input(client, active_version, path):
    response = client.post(path, {"keyword": "wildfire", "location": "Canada", "message": FIRE})
    assert response.status_code == 200
    html = response.content.decode()
    prediction = Prediction.objects.get()
    assert prediction.source == "form"
    assert '<h2 id="verdict">Disaster</h2>' in html
    assert f"{round(prediction.probability * 100)}%" in html
    assert "<meter" in html and "v1" in html
    assert FIRE in html and 'value="wildfire"' in html and 'value="Canada"' in html


def test_form_invalid_input_is_400_with_the_error_beside_the_field(client, active_version):
    response = client.post("/predict", {"keyword": "k" * 101, "message": "  "})
    assert response.status_code == 400
    html = response.content.decode()
    # The id Django's aria-describedby names, so screen readers read the error with the field.
    assert 'id="id_message_error"' in html
    assert 'aria-describedby="id_message_helptext id_message_error"' in html
    assert 'id="id_keyword_error"' in html
    assert Prediction.objects.count() == 0


def test_form_invalid_utf8_is_not_a_500(client, active_version):
    # A UTF-8-encoded lone surrogate: Django decodes it to replacement characters.
    response = client.generic(
        "POST", "/", b"message=bad%ED%A0%80text", "application/x-www-form-urlencoded"
    )
    assert response.status_code == 200
    assert Prediction.objects.get().text == "bad\ufffd\ufffd\ufffdtext"


@pytest.mark.django_db
def test_form_without_a_model_is_503_with_a_message(client):
    response = client.post("/", {"message": FIRE})
    assert response.status_code == 503
    assert "no model is active" in response.content.decode()


def test_form_requires_the_csrf_token(active_version):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    assert strict.post("/predict", {"message": FIRE}).status_code == 403
    page = strict.get("/")
    token = page.cookies["csrftoken"].value
    response = strict.post("/predict", {"message": FIRE, "csrfmiddlewaretoken": token})
    assert response.status_code == 200
    assert Prediction.objects.count() == 1


@pytest.mark.django_db
def test_get_predict_redirects_to_the_form(client):
    response = client.get("/predict")
    assert response.status_code == 302 and response["Location"] == "/"


def test_form_is_503_with_a_message_while_the_database_refuses_writes(
    client, read_only_database, active_version
):
    with read_only_database():
        response = client.post("/", {"message": FIRE})
    assert response.status_code == 503
    assert "database cannot take this request" in response.content.decode()
    assert FIRE in response.content.decode()  # what was typed is kept for the retry
    assert Prediction.objects.count() == 0
    assert client.post("/", {"message": FIRE}).status_code == 200


@pytest.mark.django_db
def test_unknown_api_addresses_are_a_json_404_and_others_the_page(client):
    api = client.get("/api/predictions/not-a-number/")
    assert api.status_code == 404
    assert api.json() == {"detail": "Not found."}
    page = client.get("/no/such/page")
    assert page.status_code == 404
    assert page["Content-Type"].startswith("text/html")


# --- the explanation on the form's result ------------------------------------------------------


def test_form_result_marks_the_top_words_and_lists_them(client, active_version):
    from predictor import selectors

    response = client.post("/", {"keyword": "wildfire", "location": "Canada", "message": FIRE})

    html = response.content.decode()
    prediction = Prediction.objects.get()
    explanation = selectors.prediction_explanation(prediction=prediction)
    assert response.context["explanation"] == explanation
    assert 'class="why-legend"' in html
    marked = [t for t in explanation.terms if t.field == "text" and t.term in FIRE.lower()]
    assert marked, "the sample model's top terms should include words of the tweet"
    for term in marked:
        assert f'<mark class="why why-{term.direction}">' in html
    for term in explanation.terms:
        assert f"{term.contribution:+.3f}</span> {term.term}" in html


def test_form_result_escapes_a_hostile_tweet(client, active_version):
    hostile = '<script>alert("fire")</script> <img src=x onerror=alert(1)> fire fire'

    response = client.post("/", {"message": hostile})

    html = response.content.decode()
    assert response.status_code == 200
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;" in html
    assert '<mark class="why' in html
