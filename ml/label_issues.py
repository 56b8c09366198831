"""Labels that look wrong: out-of-fold probabilities and confident learning (Northcutt, Jiang
and Chuang, "Confident Learning: Estimating Uncertainty in Dataset Labels", JAIR 2021),
written here on numpy and scikit-learn (the `cleanlab` package is AGPL and is not used).
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ml.data import Dataset
from ml.train import out_of_fold_probabilities, out_of_fold_splits

# Five folds: each fold model sees four fifths of the rows, so its probabilities are close to
# those of the model trained on everything, at five fits' cost (train() does three plus a refit).
LABEL_ISSUE_FOLDS = 5

SELF_CONFIDENCE = "self_confidence"
ADJUSTED_CONFIDENCE = "adjusted_confidence"
SUSPICION_METHODS = (SELF_CONFIDENCE, ADJUSTED_CONFIDENCE)
# Ranked the planted errors of bench/label_issues.py best (the figures are in the README).
DEFAULT_SUSPICION = ADJUSTED_CONFIDENCE


@dataclass(frozen=True)
class LabelIssues:
    """Per row of the data set checked: its out-of-fold P(disaster), the fold that scored it,
    its suspicion (0 to 1, higher: the label more likely wrong) and whether confident learning
    flags it; the per-class thresholds ``(t_0, t_1)`` behind the flags."""

    probability: np.ndarray
    fold: np.ndarray
    suspicion: np.ndarray
    flagged: np.ndarray
    thresholds: tuple[float, float]

    def ranking(self) -> np.ndarray:
        """Row indices, most suspicious first (ties: the earlier row first)."""
        return np.lexsort((np.arange(len(self.suspicion)), -self.suspicion))


def class_probabilities(probability: np.ndarray) -> np.ndarray:
    """The (n, 2) matrix of P(not a disaster), P(disaster)."""
    probability = np.asarray(probability, dtype=np.float64)
    return np.column_stack([1 - probability, probability])


def per_class_thresholds(probability: np.ndarray, target: np.ndarray) -> tuple[float, float]:
    """``t_k``: the mean out-of-fold P(class k) over the rows labelled k (the paper's per-class
    threshold, a model's expected self-confidence for that class). Both classes must occur."""
    proba, target = class_probabilities(probability), np.asarray(target, dtype=np.int64)
    thresholds = []
    for label in (0, 1):
        rows = target == label
        if not rows.any():
            raise ValueError(f"no row is labelled {label}: both classes are needed")
        thresholds.append(float(proba[rows, label].mean()))
    return thresholds[0], thresholds[1]


def confident_label(probability: np.ndarray, thresholds: tuple[float, float]) -> np.ndarray:
    """The class each row confidently belongs to: among the classes whose P reaches their
    threshold, the likeliest; -1 when none does (such a row counts for no cell of the confident
    joint)."""
    proba = class_probabilities(probability)
    above = proba >= np.asarray(thresholds)
    candidates = np.where(above, proba, -np.inf)
    label = candidates.argmax(axis=1)
    return np.where(above.any(axis=1), label, -1)


def confident_joint(
    probability: np.ndarray, target: np.ndarray, thresholds: tuple[float, float]
) -> np.ndarray:
    """The 2x2 confident joint C[given, confident] (rows without a confident label left out)."""
    confident = confident_label(probability, thresholds)
    target = np.asarray(target, dtype=np.int64)
    joint = np.zeros((2, 2), dtype=np.int64)
    counted = confident >= 0
    np.add.at(joint, (target[counted], confident[counted]), 1)
    return joint


def suspicion_scores(
    probability: np.ndarray,
    target: np.ndarray,
    thresholds: tuple[float, float],
    *,
    method: str = DEFAULT_SUSPICION,
) -> np.ndarray:
    """How strongly each row's out-of-fold probabilities disagree with its label, in [0, 1].

    ``self_confidence``: 1 - P(given label) (with two classes the paper's normalised margin
    ranks the same). ``adjusted_confidence``: the same after dividing each class's P by its
    threshold and renormalising, so a class the model is generally less sure of is not
    over-suspected.
    """
    proba, target = class_probabilities(probability), np.asarray(target, dtype=np.int64)
    if method == ADJUSTED_CONFIDENCE:
        proba = proba / np.asarray(thresholds)
        proba = proba / proba.sum(axis=1, keepdims=True)
    elif method != SELF_CONFIDENCE:
        raise ValueError(f"method must be one of {SUSPICION_METHODS}, got {method!r}")
    return 1 - proba[np.arange(len(target)), target]


def label_issues_find(
    data: Dataset,
    *,
    folds: int = LABEL_ISSUE_FOLDS,
    seed: int = 42,
    n_jobs: int = 2,
    method: str = DEFAULT_SUSPICION,
    on_fit_done: Callable[[int, int], None] | None = None,
) -> LabelIssues:
    """Check every row's label against the product's pipeline fitted on the other folds.

    The folds are `ml.train.out_of_fold_splits` (stratified, near-duplicates kept together), so
    no row is scored by a model that saw its label or a copy of it. A row is flagged when it
    falls off the diagonal of the confident joint: with per-class thresholds ``t_k`` (the mean
    out-of-fold P(k) over rows labelled k), the classes whose P reaches their threshold are the
    row's confident candidates; the likeliest of them is its confident label, and the row is
    flagged when that differs from the given label. A row with no candidate is not flagged.
    Its suspicion ranks all rows (`suspicion_scores`). DatasetError for rows the pipeline cannot
    be fitted on (too few, one class).
    """
    if method not in SUSPICION_METHODS:  # now, not after minutes of fitting
        raise ValueError(f"method must be one of {SUSPICION_METHODS}, got {method!r}")
    data.require_trainable()
    probability = out_of_fold_probabilities(
        data, folds=folds, seed=seed, n_jobs=n_jobs, on_fit_done=on_fit_done
    )
    fold = np.full(len(data), -1, dtype=np.int64)
    for index, (_, predict_rows) in enumerate(out_of_fold_splits(data, folds=folds, seed=seed)):
        fold[predict_rows] = index
    target = np.asarray(data.target, dtype=np.int64)
    thresholds = per_class_thresholds(probability, target)
    confident = confident_label(probability, thresholds)
    return LabelIssues(
        probability=probability,
        fold=fold,
        suspicion=suspicion_scores(probability, target, thresholds, method=method),
        flagged=(confident >= 0) & (confident != target),
        thresholds=thresholds,
    )
