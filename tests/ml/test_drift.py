"""ml/drift.py: the share of unknown words and a model's reference figures."""

import numpy as np
import pytest

from ml.data import Dataset
from ml.drift import drift_reference, oov_share, word_vectorizer
from ml.text import clean_text
from ml.tfidf import CachedTfidfVectorizer


@pytest.fixture
def vectorizer() -> CachedTfidfVectorizer:
    fitted = CachedTfidfVectorizer(preprocessor=clean_text, ngram_range=(1, 2))
    return fitted.fit(["Fire near the town", "fire in the town", "see http://x.io @bob"])


def test_unknown_words_over_all_words_together(vectorizer):
    # fire, spreads, town | the, hills: 2 of 5 words unknown (bigrams are not words).
    assert oov_share(vectorizer, ["FIRE spreads #town", "the hills"]) == pytest.approx(2 / 5)


def test_words_are_cleaned_as_the_model_cleans_them(vectorizer):
    # A link and a mention become the tokens the vocabulary holds; "#" is dropped.
    assert oov_share(vectorizer, ["https://t.co/abc @alice #fire"]) == 0.0


def test_no_words_no_share(vectorizer):
    assert oov_share(vectorizer, []) is None
    assert oov_share(vectorizer, ["!!", "a"]) is None  # single characters are not words


def test_the_reference_figures_of_a_model(sample_model, sample_data):
    rows = sample_data.subset(range(0, len(sample_data), 2))
    reference = drift_reference(sample_model, rows)
    probabilities = sample_model.predict_proba(rows.text, rows.keyword, rows.location)
    assert reference.n == len(rows)
    assert reference.disaster_share == pytest.approx(
        np.mean(probabilities >= sample_model.threshold)
    )
    assert reference.mean_probability == pytest.approx(np.mean(probabilities))
    assert reference.oov_share == oov_share(word_vectorizer(sample_model), rows.text)
    assert set(reference.as_dict()) == {"n", "disaster_share", "mean_probability", "oov_share"}


def test_unseen_words_raise_the_share(sample_model, sample_data):
    vocabulary_words = word_vectorizer(sample_model)
    own = oov_share(vocabulary_words, sample_data.text)
    made_up = [f"qzx{i} blorv{i} fire" for i in range(50)]
    # The model's own training texts: only words seen once are unknown (min_df=2).
    assert own < 0.5
    unknown_per_text = 2 + ("fire" not in vocabulary_words.vocabulary_)
    assert oov_share(vocabulary_words, made_up) == pytest.approx(unknown_per_text / 3)
    assert oov_share(vocabulary_words, made_up) > own


def test_no_rows_is_an_error(sample_model):
    with pytest.raises(ValueError, match="no rows"):
        drift_reference(sample_model, Dataset.from_rows([]))
