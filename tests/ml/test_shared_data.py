"""Quality on the real data set (skipped when it is absent); speed is measured by
`python -m ml.benchmark` and `make bench`, not asserted here. Trains once per session."""

import pytest

pytestmark = pytest.mark.slow


def test_validation_f1_is_at_least_076(shared_model):
    validation = shared_model.validation

    assert validation.f1 >= 0.76
    assert validation.n == pytest.approx(0.2 * shared_model.n_rows, abs=1)
    assert 0.3 <= shared_model.threshold <= 0.7


def test_known_tweets_are_classified(shared_model):
    def is_disaster(text: str) -> bool:
        return shared_model.predict_one(text) >= shared_model.threshold

    assert is_disaster("Forest fire near La Ronge Sask. Canada")
    assert is_disaster("Massive earthquake hits the coast, buildings collapsed and 40 dead")
    assert not is_disaster("I love fruits")
    assert not is_disaster("The sun is shining and I am happy")
