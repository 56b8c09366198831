"""CachedTfidfVectorizer must give exactly what TfidfVectorizer gives."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.feature_extraction.text import TfidfVectorizer

from ml import tfidf
from ml.text import clean_text, whole_keyword
from ml.tfidf import CachedTfidfVectorizer

SETTINGS = [
    {"preprocessor": clean_text, "ngram_range": (1, 2), "min_df": 2, "sublinear_tf": True},
    {"preprocessor": clean_text, "analyzer": "char_wb", "ngram_range": (2, 5), "min_df": 2},
    {"analyzer": whole_keyword},
    {"binary": True, "sublinear_tf": True, "norm": "l1"},
]


@pytest.mark.parametrize("settings", SETTINGS)
def test_transform_is_identical_to_tfidf_vectorizer(sample_data, settings):
    column = sample_data.keyword if settings.get("analyzer") is whole_keyword else sample_data.text
    fit_rows, other_rows = list(column[:150]), [*column[150:], "unseen wörds ø", ""]
    reference = TfidfVectorizer(**settings).fit(fit_rows)
    cached = CachedTfidfVectorizer(**settings).fit(fit_rows)

    for rows in (other_rows, other_rows, fit_rows):  # the second pass runs on a warm cache
        expected, actual = reference.transform(rows), cached.transform(rows)
        assert actual.shape == expected.shape
        assert (actual != expected).nnz == 0

    indices, counts = cached.term_counts(other_rows[0])
    row = reference.transform(other_rows[:1])
    assert list(indices) == sorted(row.indices)
    assert len(counts) == len(indices)


def test_caches_are_neither_pickled_nor_kept_across_a_refit(sample_data):
    vectorizer = CachedTfidfVectorizer(analyzer="char_wb", ngram_range=(2, 3))
    vectorizer.fit(sample_data.text).transform(sample_data.text)
    assert vectorizer._word_cache

    restored = pickle.loads(pickle.dumps(vectorizer))  # noqa: S301 (our own bytes)
    assert not hasattr(restored, "_word_cache")
    assert (restored.transform(["a flood"]) != vectorizer.transform(["a flood"])).nnz == 0

    vectorizer.fit(["completely different words"])
    assert not hasattr(vectorizer, "_word_cache")
    assert vectorizer.transform(["words"]).nnz > 0
    assert clone(vectorizer).get_params() == vectorizer.get_params()


def test_word_cache_is_bounded(sample_data, monkeypatch):
    monkeypatch.setattr(tfidf, "WORD_CACHE_SIZE", 10)
    vectorizer = CachedTfidfVectorizer(analyzer="char_wb").fit(sample_data.text)
    expected = TfidfVectorizer(analyzer="char_wb").fit(sample_data.text)

    actual = vectorizer.transform(sample_data.text)

    assert len(vectorizer._word_cache) <= 10
    assert np.array_equal(actual.toarray(), expected.transform(sample_data.text).toarray())


def test_transform_refuses_a_single_string():
    vectorizer = CachedTfidfVectorizer().fit(["one two", "two three"])

    with pytest.raises(ValueError, match="Iterable over raw text documents"):
        vectorizer.transform("one two")


@pytest.mark.parametrize("settings", [*SETTINGS, {"ngram_range": (1, 3)}, {"analyzer": "char"}])
def test_term_occurrences_count_what_transform_counts(sample_data, settings):
    column = sample_data.keyword if settings.get("analyzer") is whole_keyword else sample_data.text
    rows = [*column, "unseen wörds ø", "", *column[:20]]  # repeated values too
    vectorizer = CachedTfidfVectorizer(**settings).fit(column[:150])
    plain = {"use_idf": False, "norm": None, "sublinear_tf": False, "binary": False}
    counts = CachedTfidfVectorizer(**{**settings, **plain}).fit(column[:150])
    expected = counts.transform(rows)

    for _ in range(2):  # the second pass runs on a warm word table
        row, index = vectorizer.term_occurrences(rows)
        actual = np.zeros(expected.shape)
        np.add.at(actual, (row, index), 1)
        assert np.array_equal(actual, expected.toarray())
