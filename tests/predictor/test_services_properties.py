"""Property-based tests of the prediction service: whatever the text, tweet_clean answers a clean
tweet or InvalidTweet, and prediction_create stores exactly what it answered."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from predictor import services
from predictor.models import Prediction, Source
from tests.predictor.strategies import any_text

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(text=any_text, keyword=any_text | st.none(), location=any_text | st.none())
def test_tweet_clean_answers_a_clean_tweet_or_names_the_bad_field(text, keyword, location):
    try:
        tweet = services.tweet_clean(text=text, keyword=keyword, location=location)
    except services.InvalidTweet as exc:
        assert exc.field in ("text", "keyword", "location")
        assert exc.message
        return
    assert tweet.text and tweet.text == text.strip()
    assert len(tweet.text) <= services.TEXT_MAX_LENGTH
    for value, limit in ((tweet.keyword, keyword), (tweet.location, location)):
        assert value == (limit or "").strip()
        assert len(value) <= services.FIELD_MAX_LENGTH
    for value in (tweet.text, tweet.keyword, tweet.location):
        assert "\x00" not in value
        value.encode("utf-8")  # storable: no lone surrogates


@pytest.mark.django_db
@FUZZ
@given(text=any_text, keyword=any_text)
def test_prediction_create_stores_exactly_what_it_answered(active_version, text, keyword):
    before = Prediction.objects.count()
    try:
        prediction = services.prediction_create(text=text, keyword=keyword, source=Source.API)
    except services.InvalidTweet:
        assert Prediction.objects.count() == before
        return
    stored = Prediction.objects.get(pk=prediction.pk)
    assert (stored.text, stored.keyword) == (text.strip(), keyword.strip())
    assert 0.0 <= stored.probability <= 1.0
    assert stored.predicted_label == prediction.predicted_label
    assert Prediction.objects.count() == before + 1
