"""The plain validation functions answer exactly what DRF's serializers would."""

from __future__ import annotations

import json

import pytest
from rest_framework import serializers

from predictor.api.serializers import (
    BATCH_MAX_ITEMS,
    TweetSerializer,
    tweets_from_json,
)
from predictor.services import Tweet


class ListFieldBatch(serializers.Serializer):
    """The batch body as a DRF ListField of tweets: the error shape tweets_from_json keeps."""

    items = serializers.ListField(
        child=TweetSerializer(), min_length=1, max_length=BATCH_MAX_ITEMS, allow_empty=False
    )


BODIES = [
    {},
    {"items": None},
    {"items": []},
    {"items": "text"},
    {"items": {"text": "x"}},
    {"items": 3},
    [{"text": "x"}],
    "x",
    {"items": [{"text": "a"}] * (BATCH_MAX_ITEMS + 1)},
    {
        "items": [
            {"text": "fine"},
            {"text": ""},
            5,
            {"text": "x", "location": "y" * 101},
            {"text": 3},
            {"keyword": "x"},
            None,
            [],
            {"text": "nul \x00"},
        ]
    },
]


def as_json(detail) -> object:
    return json.loads(json.dumps(detail))


@pytest.mark.parametrize("body", BODIES, ids=lambda body: repr(body)[:30])
def test_batch_errors_are_the_list_fields(body):
    expected = ListFieldBatch(data=body)
    assert not expected.is_valid()
    with pytest.raises(serializers.ValidationError) as caught:
        tweets_from_json(body)
    assert as_json(caught.value.detail) == as_json(expected.errors)


def test_a_valid_batch_gives_the_cleaned_tweets_in_order():
    body = {"items": [{"text": " Flood "}, {"text": "fire", "keyword": None, "location": "Oslo"}]}
    assert tweets_from_json(body) == [Tweet("Flood"), Tweet("fire", "", "Oslo")]
    assert ListFieldBatch(data=body).is_valid()
