"""The OpenAPI schema says what the server does: every error answer an operation can give, the
input rules of tweet_clean, the relabel's required field, how query parameters are read.
(tests/reliability/test_schemathesis.py holds the live server to it.)"""

from __future__ import annotations

import re
import sys

import pytest
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from hypothesis import given, settings
from hypothesis import strategies as st

from predictor.api.serializers import FIELD_PATTERN, PYTHON_WHITESPACE, TEXT_PATTERN
from predictor.tweets import InvalidTweet, tweet_clean
from tests.predictor.strategies import any_text


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
        ("post", "/api/models/", ["202", "400", "401", "403", "409", "503"]),
        ("post", "/api/predictions/csv/", ["202", "400", "401", "403", "503"]),
        ("get", "/api/jobs/", ["200", "401", "403", "404", "503"]),
        ("get", "/api/jobs/{id}/", ["200", "401", "403", "404", "503"]),
        ("post", "/api/jobs/{id}/retry/", ["202", "400", "401", "403", "404", "409", "503"]),
        ("get", "/api/jobs/{id}/download/", ["200", "401", "403", "404", "503"]),
    ],
)
def test_every_operation_documents_its_error_answers_with_a_body(schema, method, path, codes):
    documented = responses(schema, method, path)
    assert sorted(documented) == codes
    for code in codes[1:]:
        body = documented[code]["content"]["application/json"]["schema"]
        expected = {
            "400": {"type": "object", "additionalProperties": {}},
            "409": {"$ref": "#/components/schemas/JobConflict"},
        }.get(code, {"$ref": "#/components/schemas/Error"})
        assert body == expected
        assert documented[code]["description"]


def test_the_schema_generates_without_warnings():
    GENERATOR_STATS.reset()
    SchemaGenerator().get_schema(request=None, public=True)
    assert not GENERATOR_STATS


def test_job_answers_are_the_job_and_the_conflict_names_the_first_training(schema):
    for method, path in [("post", "/api/models/"), ("post", "/api/jobs/{id}/retry/")]:
        accepted = responses(schema, method, path)["202"]["content"]["application/json"]
        assert accepted["schema"] == {"$ref": "#/components/schemas/Job"}
    job = schema["components"]["schemas"]["Job"]["properties"]
    assert {"id", "kind", "status", "stage", "progress", "result", "error", "url"} <= set(job)
    conflict = schema["components"]["schemas"]["JobConflict"]
    assert conflict["required"] == ["detail", "job"]
    assert schema["components"]["schemas"]["JobAddress"]["required"] == ["id", "status", "url"]


def test_a_csv_file_goes_as_a_text_csv_body_or_a_multipart_file(schema):
    content = schema["paths"]["/api/predictions/csv/"]["post"]["requestBody"]["content"]
    assert set(content) == {"text/csv", "multipart/form-data"}
    multipart = content["multipart/form-data"]["schema"]
    assert multipart["properties"]["file"] == {"type": "string", "format": "binary"}
    assert multipart["required"] == ["file"]
    download = responses(schema, "get", "/api/jobs/{id}/download/")["200"]
    assert download["content"] == {"text/csv": {"schema": {"type": "string", "format": "binary"}}}


def test_the_model_503_keeps_its_own_description(schema):
    described = responses(schema, "post", "/api/predictions/")["503"]["description"]
    assert described.startswith("No model can serve predictions")


def accepts(**fields: str) -> bool:
    try:
        tweet_clean(**{"text": "ok", **fields})
    except InvalidTweet:
        return False
    return True


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("Forest fire", True),
        ("  padded  ", True),
        ("\ufeff", True),  # not white space to Python, so a text
        ("x" * 1000, True),
        ("\n" + "x" * 1000 + " \u3000", True),  # 1,000 once stripped
        ("x" * 1001, False),
        ("", False),
        ("   \t\n", False),
        ("\x85\u3000\x1c", False),  # white space to Python (not all of it to ECMAScript)
        ("nul \x00 inside", False),
    ],
)
def test_the_text_pattern_is_tweet_clean_s_rule(text, valid):
    assert bool(re.fullmatch(TEXT_PATTERN, text)) == valid
    assert accepts(text=text) == valid


# White space, NUL and a byte order mark in bulk, around and inside text near the length limits;
# and any Unicode but lone surrogates, which tweet_clean refuses and no pattern can describe (in
# ECMAScript a pattern sees an emoji as two surrogates): the schema's description says so.
edgy_text = st.text(st.sampled_from(PYTHON_WHITESPACE + "\x00\ufeffab"), max_size=1010) | any_text
edgy_text = edgy_text.filter(lambda value: not any("\ud800" <= c <= "\udfff" for c in value))


@settings(max_examples=300, deadline=None)
@given(value=edgy_text)
def test_the_schema_patterns_accept_exactly_what_tweet_clean_accepts(value):
    assert bool(re.fullmatch(TEXT_PATTERN, value)) == accepts(text=value)
    assert bool(re.fullmatch(FIELD_PATTERN, value)) == accepts(keyword=value)
    assert bool(re.fullmatch(FIELD_PATTERN, value)) == accepts(location=value)


def test_the_white_space_spelled_out_is_what_str_strip_removes():
    everything = map(chr, range(sys.maxunicode + 1))
    assert set(PYTHON_WHITESPACE) == {c for c in everything if c.isspace()}


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
