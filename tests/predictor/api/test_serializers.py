"""The serializers' fast functions answer exactly what DRF's machinery would, with exactly the
declared fields (the schema)."""

from __future__ import annotations

import dataclasses
import json

import pytest
from rest_framework import serializers

from predictor.api.serializers import (
    BATCH_MAX_ITEMS,
    BatchResultSerializer,
    BatchSerializer,
    PredictionHistorySerializer,
    PredictionSerializer,
    TweetSerializer,
)
from predictor.tweets import Tweet


class ListFieldBatch(serializers.Serializer):
    """The batch body as a DRF ListField of tweets: the error shape BatchSerializer.parse keeps."""

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
        BatchSerializer.parse(body)
    assert as_json(caught.value.detail) == as_json(expected.errors)


def test_a_valid_batch_gives_the_cleaned_tweets_in_order():
    body = {"items": [{"text": " Flood "}, {"text": "fire", "keyword": None, "location": "Oslo"}]}
    assert BatchSerializer.parse(body) == [Tweet("Flood"), Tweet("fire", "", "Oslo")]
    assert ListFieldBatch(data=body).is_valid()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "serializer", [PredictionSerializer, PredictionHistorySerializer], ids=lambda s: s.__name__
)
def test_the_fast_answer_has_exactly_the_declared_fields_in_order(
    serializer, active_version, django_user_model
):
    from predictor import services
    from predictor.models import Label, Prediction, Source

    (prediction,) = services.prediction_create_batch(tweets=[Tweet("Flood", "flood", "Leeds")])
    reviewer = django_user_model.objects.create_user("rita")
    services.prediction_relabel(prediction=prediction, true_label=Label.DISASTER, reviewer=reviewer)
    stored = Prediction.objects.select_related("model_version", "reviewed_by").get()
    answer = serializer.represent(stored)
    assert list(answer) == list(serializer().fields)
    assert serializer(stored).data == answer
    assert stored.source == Source.BATCH


@pytest.mark.django_db
def test_the_batch_answer_has_exactly_the_declared_fields(active_version):
    from predictor import services

    predictions = services.prediction_create_batch(tweets=[Tweet("Flood"), Tweet("Sunny day")])
    answer = BatchResultSerializer.represent(predictions)
    assert list(answer) == list(BatchResultSerializer().fields)
    assert answer["results"] == [PredictionSerializer.represent(p) for p in predictions]


def test_a_tweet_s_declared_fields_are_the_tweet_s():
    assert list(TweetSerializer().fields) == [f.name for f in dataclasses.fields(Tweet)]


@pytest.mark.django_db
def test_the_batch_answer_is_each_prediction_s_answer_even_when_they_differ(make_version):
    import datetime

    from predictor.models import Label, Prediction, Source

    first, second = make_version("v1", artifact=False), make_version("v2", artifact=False)
    moment = datetime.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=datetime.UTC)
    predictions = [
        Prediction(
            id=i,
            text=f"t{i}",
            keyword="k" if i % 2 else "",
            location="",
            probability=i / 7,
            predicted_label=Label.DISASTER if i % 3 else Label.NOT_DISASTER,
            threshold=0.123456789,
            model_version=(first, second)[i % 2],
            source=Source.BATCH,
            created=moment + datetime.timedelta(seconds=i // 2),
        )
        for i in range(6)
    ]

    answer = BatchResultSerializer.represent(predictions)

    expected = [PredictionSerializer.represent(p) for p in predictions]
    assert json.dumps(answer["results"]) == json.dumps(expected)
    assert answer["model_version"] == "v1"
