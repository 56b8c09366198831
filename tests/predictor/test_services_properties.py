"""Property-based tests of the prediction service: whatever the clean tweet, prediction_create
stores exactly what it answered."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from predictor import services
from predictor.models import Prediction, Source
from predictor.tweets import InvalidTweet, tweet_clean
from tests.predictor.strategies import any_text

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.django_db
@FUZZ
@given(text=any_text, keyword=any_text)
def test_prediction_create_stores_exactly_what_it_answered(active_version, text, keyword):
    before = Prediction.objects.count()
    try:
        tweet = tweet_clean(text=text, keyword=keyword)
    except InvalidTweet:
        return
    prediction = services.prediction_create(tweet=tweet, source=Source.API)
    stored = Prediction.objects.get(pk=prediction.pk)
    assert (stored.text, stored.keyword) == (text.strip(), keyword.strip())
    assert 0.0 <= stored.probability <= 1.0
    assert stored.predicted_label == prediction.predicted_label
    assert Prediction.objects.count() == before + 1
