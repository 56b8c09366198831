"""Metrics at a threshold and the choice of threshold."""

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score

from ml.data import Dataset, DatasetError
from ml.evaluate import Metrics, best_threshold, evaluate, score


def test_score_agrees_with_scikit_learn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    proba = np.clip(y * 0.3 + rng.random(300) * 0.7, 0, 1)

    metrics = score(y, proba, 0.55)

    predicted = proba >= 0.55
    assert metrics.n == 300
    assert metrics.threshold == 0.55
    assert metrics.accuracy == pytest.approx(accuracy_score(y, predicted))
    assert metrics.precision == pytest.approx(precision_score(y, predicted))
    assert metrics.recall == pytest.approx(recall_score(y, predicted))
    assert metrics.f1 == pytest.approx(f1_score(y, predicted))
    assert metrics.roc_auc == pytest.approx(roc_auc_score(y, proba))


def test_score_without_positives_or_predictions_is_zero_not_an_error():
    metrics = score([0, 0, 0], [0.1, 0.2, 0.9], 0.95)

    assert (metrics.precision, metrics.recall, metrics.f1) == (0.0, 0.0, 0.0)
    assert metrics.accuracy == 1.0
    assert metrics.roc_auc is None


def test_as_dict_is_plain_and_complete():
    metrics = score([0, 1, 1, 0], [0.2, 0.8, 0.4, 0.6], 0.5)

    assert metrics.as_dict() == {
        "n": 4,
        "accuracy": 0.5,
        "precision": 0.5,
        "recall": 0.5,
        "f1": 0.5,
        "roc_auc": 0.75,
        "threshold": 0.5,
    }


def test_best_threshold_maximises_f1_and_is_rounded():
    y = [0, 0, 0, 1, 1, 1]
    proba = [0.10, 0.20, 0.31, 0.33, 0.70, 0.90]

    threshold = best_threshold(y, proba)

    # 0.32 and 0.33 both separate the classes; 0.33 is nearer 0.5.
    assert threshold == pytest.approx(0.33)
    assert round(threshold, 2) == threshold
    assert score(y, proba, threshold).f1 == 1.0


def test_best_threshold_prefers_the_one_nearest_a_half_among_equals():
    assert best_threshold([0, 1], [0.1, 0.9]) == 0.5
    assert best_threshold([0, 0], [0.1, 0.9]) == 0.5


def test_inputs_must_line_up():
    with pytest.raises(ValueError, match="equally long"):
        score([0, 1], [0.5], 0.5)


def test_evaluate_uses_the_model_threshold_unless_given_one(sample_model, sample_data):
    metrics = evaluate(sample_model, sample_data)
    lenient = evaluate(sample_model, sample_data, threshold=0.05)

    assert isinstance(metrics, Metrics)
    assert metrics.threshold == sample_model.threshold
    assert metrics.n == len(sample_data)
    assert lenient.threshold == 0.05
    assert lenient.recall >= metrics.recall


def test_evaluate_refuses_an_empty_data_set(sample_model):
    with pytest.raises(DatasetError, match="empty"):
        evaluate(sample_model, Dataset.from_rows([]))
