"""Quality and speed on the real data set (skipped when it is absent). Trains once per session."""

import time

import pytest

pytestmark = pytest.mark.slow


def test_validation_f1_is_at_least_076(shared_model):
    validation = shared_model.validation

    assert validation.f1 >= 0.76
    assert validation.n == pytest.approx(0.2 * shared_model.n_rows, abs=1)
    assert 0.3 <= shared_model.threshold <= 0.7


def test_training_takes_under_a_minute(shared_model):
    assert shared_model.train_seconds <= 60


def test_batch_prediction_is_fast_enough(shared_model, shared_data):
    columns = (shared_data.text, shared_data.keyword, shared_data.location)
    shared_model.predict_proba(*columns)  # the first call also fills the n-gram caches

    started = time.perf_counter()
    shared_model.predict_proba(*columns)
    rate = len(shared_data) / (time.perf_counter() - started)

    # The target is 10,000/s; a loaded CI machine gets some slack.
    assert rate >= 5_000


def test_known_tweets_are_classified(shared_model):
    def is_disaster(text: str) -> bool:
        return shared_model.predict_one(text) >= shared_model.threshold

    assert is_disaster("Forest fire near La Ronge Sask. Canada")
    assert is_disaster("Massive earthquake hits the coast, buildings collapsed and 40 dead")
    assert not is_disaster("I love fruits")
    assert not is_disaster("The sun is shining and I am happy")
