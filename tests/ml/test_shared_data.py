"""Quality on the real data set (skipped when it is absent); speed is measured by
`python -m ml.benchmark` and `make bench`, not asserted here. Trains once per session."""

import pytest

pytestmark = pytest.mark.slow


def test_out_of_fold_f1_is_at_least_075(shared_model):
    validation = shared_model.validation

    # Grouped out-of-fold F1 was 0.769 when measured; the old ungrouped 80/20 split, with
    # near-duplicates on both sides, gave 0.786 for the same model.
    assert validation.f1 >= 0.75
    assert validation.n == shared_model.n_rows
    assert 0.3 <= shared_model.threshold <= 0.7


def test_known_tweets_are_classified(shared_model):
    def is_disaster(text: str) -> bool:
        return shared_model.predict_one(text) >= shared_model.threshold

    assert is_disaster("Forest fire near La Ronge Sask. Canada")
    assert is_disaster("Massive earthquake hits the coast, buildings collapsed and 40 dead")
    assert not is_disaster("I love fruits")
    assert not is_disaster("The sun is shining and I am happy")
