"""The numpy tree walker gives XGBoost's own probabilities."""

import numpy as np
import pytest
import scipy.sparse as sp
from xgboost import XGBClassifier

from ml.model import TrainedModel
from ml.pipeline import input_matrix
from ml.tree_ensemble import TreeEnsemble, UnsupportedModel


def rows_with_missing(matrix: sp.csr_matrix) -> np.ndarray:
    """Dense float32 rows where absent sparse entries are NaN (missing), as XGBoost sees CSR."""
    dense = np.full(matrix.shape, np.nan, dtype=np.float32)
    coo = matrix.tocoo()
    dense[coo.row, coo.col] = coo.data
    return dense


def assert_matches_xgboost(model: TrainedModel, data) -> None:
    trees = model.pipeline.named_steps["classifier"].named_estimators_["trees"]
    features = model.pipeline.named_steps["features"].transform(
        input_matrix(data.text, data.keyword, data.location)
    )
    selected = sp.csr_matrix(trees.named_steps["select"].transform(features))
    expected = trees.named_steps["xgboost"].predict_proba(selected)[:, 1]
    ensemble = TreeEnsemble(trees.named_steps["xgboost"].get_booster())
    got = np.array([ensemble.probability(row) for row in rows_with_missing(selected)])
    np.testing.assert_allclose(got, expected, atol=2e-6, rtol=0)


def test_matches_xgboost_on_the_sample(sample_model, sample_data):
    assert_matches_xgboost(sample_model, sample_data)


def test_matches_xgboost_on_the_whole_real_data_set(shared_model, shared_data):
    assert_matches_xgboost(shared_model, shared_data)


def test_missing_values_follow_the_default_direction():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(400, 6)).astype(np.float32)
    features[rng.random(features.shape) < 0.3] = np.nan
    target = (np.nan_to_num(features[:, 0]) + np.nan_to_num(features[:, 1]) > 0).astype(int)
    model = XGBClassifier(n_estimators=30, max_depth=5, random_state=0).fit(features, target)
    ensemble = TreeEnsemble(model.get_booster())
    got = np.array([ensemble.probability(row) for row in features])
    np.testing.assert_allclose(got, model.predict_proba(features)[:, 1], atol=2e-6, rtol=0)


def test_other_objectives_are_refused():
    features = np.arange(60, dtype=np.float32).reshape(20, 3)
    model = XGBClassifier(n_estimators=2).fit(features, np.arange(20) % 3)
    with pytest.raises(UnsupportedModel, match="multi:softprob"):
        TreeEnsemble(model.get_booster())
