"""The single-tweet fast path must reproduce the pipeline: same features, same probability."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from sklearn.pipeline import Pipeline

from ml.persistence import load, save
from ml.pipeline import input_matrix
from ml.single_tweet import SingleTweetScorer


def assert_fast_path_matches_pipeline(model, data) -> None:
    """Feature rows identical bit for bit, and probabilities within 1e-6, on every row."""
    scorer = SingleTweetScorer(model.pipeline)
    matrix = input_matrix(data.text, data.keyword, data.location)
    features = model.pipeline.named_steps["features"].transform(matrix).tocsr()
    features.sort_indices()
    for i, row in enumerate(zip(data.text, data.keyword, data.location, strict=True)):
        indices, values = scorer.features(*row)
        start, stop = features.indptr[i], features.indptr[i + 1]
        assert np.array_equal(indices, features.indices[start:stop]), f"row {i}: columns differ"
        assert np.array_equal(values, features.data[start:stop]), f"row {i}: values differ"

    batch = model.predict_proba(data.text, data.keyword, data.location)
    one_by_one = np.array(
        [
            model.predict_one(*row)
            for row in zip(data.text, data.keyword, data.location, strict=True)
        ]
    )
    assert np.abs(batch - one_by_one).max() < 1e-6


def test_fast_path_matches_pipeline_on_the_sample(sample_model, sample_data):
    assert_fast_path_matches_pipeline(sample_model, sample_data)


@pytest.mark.slow
def test_fast_path_matches_pipeline_on_the_whole_real_data_set(shared_model, shared_data):
    assert_fast_path_matches_pipeline(shared_model, shared_data)


@pytest.mark.parametrize(
    "row",
    [
        ("", "", ""),
        ("!!! ??? ...", "", ""),
        ("Ünïcödé flood ☔ in Zürich", "flash%20flood", "Zürich"),
        ("word " * 200, "x" * 50, "y" * 50),
        ("@someone http://t.co/x #", "", ""),
    ],
)
def test_fast_path_matches_pipeline_on_odd_input(sample_model, row):
    batch = sample_model.predict_proba([row[0]], [row[1]], [row[2]])[0]

    assert sample_model.predict_one(*row) == pytest.approx(batch, abs=1e-6)


def test_predict_one_defaults_keyword_and_location_to_empty(sample_model):
    text = "Tornado warning, take shelter now"

    assert sample_model.predict_one(text) == sample_model.predict_one(text, "", "")


def test_scorer_refuses_a_pipeline_it_cannot_reproduce():
    with pytest.raises(TypeError, match="ColumnTransformer followed by a VotingClassifier"):
        SingleTweetScorer(Pipeline([("features", "passthrough"), ("classifier", "passthrough")]))


def test_predict_one_is_safe_from_several_threads(sample_model, sample_data, tmp_path):
    artifact = save(sample_model, tmp_path, "threads")
    model = load(artifact.path, artifact.sha256)  # fresh n-gram caches, shared by the threads
    rows = list(zip(sample_data.text, sample_data.keyword, sample_data.location, strict=True))
    expected = model.predict_proba(sample_data.text, sample_data.keyword, sample_data.location)

    with ThreadPoolExecutor(max_workers=4) as executor:
        results = list(executor.map(lambda row: model.predict_one(*row), rows * 4))

    np.testing.assert_allclose(results, np.tile(expected, 4), atol=1e-6)
