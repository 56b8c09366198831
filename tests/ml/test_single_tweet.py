"""The single-tweet fast path must reproduce the pipeline: same features, same probability."""

import numpy as np
import pytest

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
        expected = features[i]
        assert np.array_equal(indices, expected.indices), f"row {i}: columns differ"
        assert np.array_equal(values, expected.data), f"row {i}: values differ"

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


def test_scorer_refuses_a_pipeline_it_cannot_reproduce(sample_model):
    from sklearn.pipeline import Pipeline

    with pytest.raises(TypeError, match="ColumnTransformer followed by a VotingClassifier"):
        SingleTweetScorer(Pipeline([("features", "passthrough"), ("classifier", "passthrough")]))
