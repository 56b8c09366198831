"""Classification metrics at a probability threshold, and the threshold that maximises F1."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Protocol

import numpy as np
from sklearn.metrics import roc_auc_score

from ml.data import Dataset, DatasetError


class ProbabilityModel(Protocol):
    """What `evaluate` needs of a model (ml.model.TrainedModel is one)."""

    threshold: float

    def predict_proba(
        self, text: Sequence[str], keyword: Sequence[str], location: Sequence[str]
    ) -> np.ndarray: ...


# Candidate thresholds: a 0.01 grid; the extremes are left out because a threshold
# there only ever wins on a degenerate split.
THRESHOLD_CANDIDATES = np.round(np.arange(0.05, 0.951, 0.01), 2)


@dataclass(frozen=True)
class Metrics:
    """How well probabilities, cut at ``threshold``, match the true labels of ``n`` rows."""

    n: int
    accuracy: float
    precision: float
    recall: float
    f1: float
    roc_auc: float | None
    threshold: float

    def as_dict(self) -> dict[str, float | int | None]:
        """The metrics as a plain, JSON-ready dict."""
        return asdict(self)


def _as_arrays(y_true: Sequence[int], proba: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true, dtype=np.int64)
    p = np.asarray(proba, dtype=np.float64)
    if y.shape != p.shape or y.ndim != 1:
        raise ValueError(f"y_true and proba must be 1-D and equally long: {y.shape}, {p.shape}")
    return y, p


def _f1(true_positive: np.ndarray, predicted: np.ndarray, actual: int) -> np.ndarray:
    denominator = predicted + actual
    zeros = np.zeros(np.shape(true_positive))
    return np.divide(2.0 * true_positive, denominator, out=zeros, where=denominator > 0)


def best_threshold(y_true: Sequence[int], proba: Sequence[float]) -> float:
    """The candidate threshold with the highest F1; ties go to the one nearest 0.5."""
    y, p = _as_arrays(y_true, proba)
    predicted = p[:, None] >= THRESHOLD_CANDIDATES[None, :]
    f1 = _f1((predicted & (y[:, None] == 1)).sum(axis=0), predicted.sum(axis=0), int(y.sum()))
    best = np.flatnonzero(f1 == f1.max())
    return float(THRESHOLD_CANDIDATES[best[np.argmin(np.abs(THRESHOLD_CANDIDATES[best] - 0.5))]])


def score(y_true: Sequence[int], proba: Sequence[float], threshold: float) -> Metrics:
    """Metrics of predicting 1 where ``proba >= threshold``; ROC AUC is None with one class."""
    y, p = _as_arrays(y_true, proba)
    if not len(y):
        raise ValueError("cannot score zero rows")
    predicted = p >= threshold
    true_positive = int((predicted & (y == 1)).sum())
    n_predicted, n_actual = int(predicted.sum()), int(y.sum())
    return Metrics(
        n=len(y),
        accuracy=float((predicted == (y == 1)).mean()),
        precision=true_positive / n_predicted if n_predicted else 0.0,
        recall=true_positive / n_actual if n_actual else 0.0,
        f1=float(_f1(np.array(true_positive), np.array(n_predicted), n_actual)),
        roc_auc=float(roc_auc_score(y, p)) if 0 < n_actual < len(y) else None,
        threshold=float(threshold),
    )


def evaluate(model: ProbabilityModel, data: Dataset, threshold: float | None = None) -> Metrics:
    """Score ``model`` on ``data`` at ``threshold`` (default: the model's own threshold)."""
    if not len(data):
        raise DatasetError("cannot evaluate on an empty data set")
    proba = model.predict_proba(data.text, data.keyword, data.location)
    return score(data.target, proba, model.threshold if threshold is None else threshold)
