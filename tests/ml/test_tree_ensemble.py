"""The numpy tree walker gives XGBoost's own probabilities, and its SHAP tables XGBoost's own
pred_contribs."""

import numpy as np
import pytest
import scipy.sparse as sp
import xgboost
from xgboost import XGBClassifier

from ml.model import TrainedModel
from ml.pipeline import input_matrix
from ml.tree_ensemble import TreeContributions, TreeEnsemble, UnsupportedModel


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


def assert_contributions_match_xgboost(booster: xgboost.Booster, rows: np.ndarray) -> None:
    """Every row's SHAP values and the bias equal XGBoost's pred_contribs (float32 there)."""
    expected = booster.predict(xgboost.DMatrix(rows, missing=np.nan), pred_contribs=True)
    contributions = TreeContributions(booster)
    got = np.array([contributions.contributions(row) for row in rows])
    np.testing.assert_allclose(got, expected[:, :-1], atol=2e-6, rtol=0)
    np.testing.assert_allclose(expected[:, -1], contributions.bias, atol=2e-6, rtol=0)
    # They add up to the margin, as SHAP values do.
    margins = booster.predict(xgboost.DMatrix(rows, missing=np.nan), output_margin=True)
    np.testing.assert_allclose(got.sum(axis=1) + contributions.bias, margins, atol=1e-5, rtol=0)


def _pipeline_trees(model: TrainedModel, data) -> tuple[xgboost.Booster, np.ndarray]:
    trees = model.pipeline.named_steps["classifier"].named_estimators_["trees"]
    features = model.pipeline.named_steps["features"].transform(
        input_matrix(data.text, data.keyword, data.location)
    )
    selected = sp.csr_matrix(trees.named_steps["select"].transform(features))
    return trees.named_steps["xgboost"].get_booster(), rows_with_missing(selected)


def test_contributions_match_xgboost_on_the_sample(sample_model, sample_data):
    assert_contributions_match_xgboost(*_pipeline_trees(sample_model, sample_data))


@pytest.mark.slow
def test_contributions_match_xgboost_on_the_whole_real_data_set(shared_model, shared_data):
    assert_contributions_match_xgboost(*_pipeline_trees(shared_model, shared_data))


@pytest.mark.parametrize("max_depth", [1, 3, 6])
def test_contributions_with_repeated_features_and_missing_values(max_depth):
    # Few features and deep trees: the same feature splits several times on one path.
    rng = np.random.default_rng(1)
    features = rng.normal(size=(300, 3)).astype(np.float32)
    features[rng.random(features.shape) < 0.3] = np.nan
    target = (np.nan_to_num(features[:, 0]) * np.nan_to_num(features[:, 1]) > 0).astype(int)
    model = XGBClassifier(n_estimators=20, max_depth=max_depth, random_state=0)
    assert_contributions_match_xgboost(model.fit(features, target).get_booster(), features)
