"""What a valid tweet is: tweet_clean answers a clean Tweet or InvalidTweet naming the field."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from predictor.tweets import FIELD_MAX_LENGTH, TEXT_MAX_LENGTH, InvalidTweet, Tweet, tweet_clean
from tests.predictor.strategies import any_text

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"text": "   "}, "text"),
        ({"text": "x" * 1001}, "text"),
        ({"text": "ok", "keyword": "k" * 101}, "keyword"),
        ({"text": "ok", "location": "l" * 101}, "location"),
        ({"text": "lone surrogate \ud800"}, "text"),
        ({"text": "null \x00 byte"}, "text"),
    ],
)
def test_tweet_clean_names_the_bad_field(fields, field):
    with pytest.raises(InvalidTweet) as caught:
        tweet_clean(**fields)
    assert caught.value.field == field


def test_tweet_clean_strips_and_defaults_missing_fields():
    assert tweet_clean(text="  Flood \n", keyword=None, location=" Oslo ") == Tweet(
        "Flood", "", "Oslo"
    )


@FUZZ
@given(text=any_text, keyword=any_text | st.none(), location=any_text | st.none())
def test_tweet_clean_answers_a_clean_tweet_or_names_the_bad_field(text, keyword, location):
    try:
        tweet = tweet_clean(text=text, keyword=keyword, location=location)
    except InvalidTweet as exc:
        assert exc.field in ("text", "keyword", "location")
        assert exc.message
        return
    assert tweet.text and tweet.text == text.strip()
    assert len(tweet.text) <= TEXT_MAX_LENGTH
    for value, limit in ((tweet.keyword, keyword), (tweet.location, location)):
        assert value == (limit or "").strip()
        assert len(value) <= FIELD_MAX_LENGTH
    for value in (tweet.text, tweet.keyword, tweet.location):
        assert "\x00" not in value
        value.encode("utf-8")  # storable: no lone surrogates
