"""The OpenAPI schema says what the server does: every error answer an operation can give, the
input rules of tweet_clean, the relabel's required field, how query parameters are read.
(tests/reliability/test_schemathesis.py holds the live server to it.)"""

from __future__ import annotations

import re

import pytest
from drf_spectacular.generators import SchemaGenerator

from predictor.api.serializers import FIELD_PATTERN, TEXT_PATTERN
from predictor.services import InvalidTweet, tweet_clean


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def responses(schema: dict, method: str, path: str) -> dict:
    return schema["paths"][path][method]["responses"]


@pytest.mark.parametrize(
    ("method", "path", "codes"),
    [
        ("post", "/api/predictions/", ["201", "400", "401", "403", "429", "503"]),
        ("post", "/api/predictions/batch/", ["201", "400", "401", "403", "429", "503"]),
        ("get", "/api/predictions/", ["200", "400", "401", "403", "404", "503"]),
        ("get", "/api/predictions/{id}/", ["200", "401", "403", "404", "503"]),
        ("patch", "/api/predictions/{id}/", ["200", "400", "401", "403", "404", "503"]),
        ("get", "/api/models/", ["200", "401", "403", "404", "503"]),
        ("get", "/api/models/active/", ["200", "401", "403", "404", "503"]),
    ],
)
def test_every_operation_documents_its_error_answers_with_a_body(schema, method, path, codes):
    documented = responses(schema, method, path)
    assert sorted(documented) == codes
    for code in codes[1:]:
        body = documented[code]["content"]["application/json"]["schema"]
        expected = {"type": "object", "additionalProperties": {}} if code == "400" else None
        assert body == (expected or {"$ref": "#/components/schemas/Error"})
        assert documented[code]["description"]


def test_the_model_503_keeps_its_own_description(schema):
    described = responses(schema, "post", "/api/predictions/")["503"]["description"]
    assert described.startswith("No model can serve predictions")


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("Forest fire", True),
        ("  padded  ", True),
        ("", False),
        ("   \t\n", False),
        ("nul \x00 inside", False),
    ],
)
def test_the_text_pattern_is_tweet_clean_s_rule(text, valid):
    pattern = TEXT_PATTERN.replace("\\u0000", "\\x00")  # the same pattern in Python's syntax
    assert bool(re.fullmatch(pattern, text)) == valid
    try:
        tweet_clean(text=text)
        accepted = True
    except InvalidTweet:
        accepted = False
    assert accepted == valid
    assert re.fullmatch(FIELD_PATTERN.replace("\\u0000", "\\x00"), text) or "\x00" in text


def test_relabel_documents_true_label_as_required(schema):
    body = schema["paths"]["/api/predictions/{id}/"]["patch"]["requestBody"]
    assert body["required"] is True
    ref = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert schema["components"]["schemas"][ref]["required"] == ["true_label"]


def test_query_parameters_accept_the_empty_value_and_free_text_no_nul(schema):
    parameters = schema["paths"]["/api/predictions/"]["get"]["parameters"]
    by_name = {p["name"]: p for p in parameters}
    assert all(p["allowEmptyValue"] for p in parameters)
    assert by_name["search"]["schema"]["pattern"] == "^[^\\u0000]*$"
    assert by_name["reviewed"]["schema"] == {"type": "string", "enum": ["false", "true"]}
