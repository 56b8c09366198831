"""The batch fast path must reproduce the pipeline: same features, same probabilities."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from sklearn.pipeline import Pipeline

from ml import tfidf
from ml.batch_scoring import BatchScorer
from ml.persistence import load, save
from ml.pipeline import input_matrix


def pipeline_features(model, text, keyword, location):
    matrix = model.pipeline.named_steps["features"].transform(input_matrix(text, keyword, location))
    matrix = matrix.tocsr()
    matrix.sort_indices()
    return matrix


def assert_batch_path_matches_pipeline(model, text, keyword, location) -> None:
    """The same non-zero features (values within 1e-12), probabilities within 1e-9."""
    scorer = BatchScorer(model.pipeline)
    expected = pipeline_features(model, text, keyword, location)
    actual = scorer.features(text, keyword, location)
    assert actual.shape == expected.shape
    assert np.array_equal(actual.indptr, expected.indptr)
    assert np.array_equal(actual.indices, expected.indices)
    np.testing.assert_allclose(actual.data, expected.data, rtol=1e-12, atol=0)

    reference = model.pipeline.predict_proba(input_matrix(text, keyword, location))[:, 1]
    for _ in range(2):  # the second pass runs on warm caches
        assert np.abs(scorer(text, keyword, location) - reference).max() < 1e-9
    assert np.abs(model.predict_proba(text, keyword, location) - reference).max() < 1e-9


def test_batch_path_matches_pipeline_on_the_sample(sample_model, sample_data):
    assert_batch_path_matches_pipeline(
        sample_model, sample_data.text, sample_data.keyword, sample_data.location
    )


@pytest.mark.slow
def test_batch_path_matches_pipeline_on_the_whole_real_data_set(shared_model, shared_data):
    assert_batch_path_matches_pipeline(
        shared_model, shared_data.text, shared_data.keyword, shared_data.location
    )
    # Unique texts, in batches of 1,000 as the API sends them.
    text = [f"{t} u{i:x}" for i, t in enumerate(shared_data.text)]
    for start in range(0, len(text), 1000):
        stop = start + 1000
        assert_batch_path_matches_pipeline(
            shared_model,
            text[start:stop],
            shared_data.keyword[start:stop],
            shared_data.location[start:stop],
        )


ODD_ROWS = [
    ("", "", ""),
    ("!!! ??? ...", "", ""),
    ("Ünïcödé flood ☔ in Zürich", "flash%20flood", "Zürich"),
    ("word " * 200, "x" * 50, "y" * 50),
    ("@someone http://t.co/x #", "", ""),
    ("a", "", ""),
    ("fire  fire\tfire\nfire", "fire", "fire"),
]


def test_batch_path_matches_pipeline_on_odd_input(sample_model):
    text, keyword, location = (list(column) for column in zip(*ODD_ROWS, strict=True))
    assert_batch_path_matches_pipeline(sample_model, text, keyword, location)
    for row in ODD_ROWS:  # one row at a time, where nothing is repeated
        assert_batch_path_matches_pipeline(sample_model, *([value] for value in row))


def test_repeated_keywords_and_locations_are_counted_for_every_row(sample_model, sample_data):
    n = len(sample_data.text)
    keyword = [sample_data.keyword[i % 3] for i in range(n)]
    location = ["London"] * n
    assert_batch_path_matches_pipeline(sample_model, sample_data.text, keyword, location)


def test_an_empty_batch_has_no_probabilities(sample_model):
    assert BatchScorer(sample_model.pipeline)([], [], []).shape == (0,)


def test_columns_of_different_lengths_are_refused(sample_model):
    with pytest.raises(ValueError, match="same length"):
        BatchScorer(sample_model.pipeline)(["a", "b"], [""], [""])


def test_a_full_word_table_still_gives_the_pipeline_s_features(
    sample_model, sample_data, tmp_path, monkeypatch
):
    monkeypatch.setattr(tfidf, "WORD_CACHE_SIZE", 10)
    artifact = save(sample_model, tmp_path, "full")
    model = load(artifact.path, artifact.sha256)  # empty word tables
    columns = (sample_data.text, sample_data.keyword, sample_data.location)
    expected = pipeline_features(sample_model, *columns)
    scorer = BatchScorer(model.pipeline)

    for _ in range(2):
        actual = scorer.features(*columns)
        assert np.array_equal(actual.indices, expected.indices)
        np.testing.assert_allclose(actual.data, expected.data, rtol=1e-12, atol=0)
    chars = model.pipeline.named_steps["features"].named_transformers_["chars"]
    assert len(chars._gram_table._ids) == 10


def test_scorer_refuses_a_pipeline_it_cannot_reproduce():
    with pytest.raises(TypeError, match="ColumnTransformer followed by a VotingClassifier"):
        BatchScorer(Pipeline([("features", "passthrough"), ("classifier", "passthrough")]))


def test_predict_proba_is_safe_from_several_threads(sample_model, sample_data, tmp_path):
    artifact = save(sample_model, tmp_path, "threads")
    model = load(artifact.path, artifact.sha256)  # fresh word tables, shared by the threads
    columns = (sample_data.text, sample_data.keyword, sample_data.location)
    expected = sample_model.pipeline.predict_proba(input_matrix(*columns))[:, 1]
    chunks = [
        [column[start : start + 7] for column in columns]
        for start in range(0, len(sample_data.text), 7)
    ]

    with ThreadPoolExecutor(max_workers=4) as executor:
        results = list(executor.map(lambda chunk: model.predict_proba(*chunk), chunks * 4))

    np.testing.assert_allclose(np.concatenate(results), np.tile(expected, 4), atol=1e-9)
