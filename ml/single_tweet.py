"""Low-latency scoring of one tweet by a fitted pipeline, without scikit-learn's per-call overhead.

It reads the fitted vocabularies, idf weights, coefficients and booster out of the pipeline and
reproduces its features exactly; tests/ml/test_single_tweet.py checks that on whole data sets.
"""

import math
from dataclasses import dataclass

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline

from ml.pipeline import fitted_parts
from ml.tfidf import CachedTfidfVectorizer
from ml.tree_ensemble import TreeEnsemble


@dataclass(frozen=True)
class _TfidfBlock:
    """One fitted TfidfVectorizer of the ColumnTransformer and where its output columns start."""

    column: int
    vectorizer: CachedTfidfVectorizer
    idf: np.ndarray
    sublinear_tf: bool
    weight: float | None
    offset: int

    def features(self, value: str) -> tuple[np.ndarray, np.ndarray]:
        """Column indices and values of this block, as TfidfVectorizer.transform gives them."""
        indices, counts = self.vectorizer.term_counts(value)
        if not len(indices):
            return indices, np.empty(0)
        if self.sublinear_tf:
            data = np.log(counts)
            data += 1.0
        else:
            data = counts.astype(np.float64)
        data *= self.idf[indices]
        # Sequential sum of squares, in index order, as sklearn's l2 normalisation does it.
        norm = np.cumsum(data * data)[-1]
        if norm != 0.0:
            data /= math.sqrt(norm)
        if self.weight is not None:
            data = data * self.weight
        return indices + self.offset, data


class SingleTweetScorer:
    """Computes the pipeline's P(disaster) for one tweet in well under a millisecond."""

    def __init__(self, pipeline: Pipeline) -> None:
        parts = fitted_parts(pipeline)
        features = parts.features
        self._blocks = [
            _block(features, name)
            for name, transformer, _ in features.transformers_
            if transformer != "drop" and _is_used(features, name)
        ]
        self.n_features = parts.n_features
        self._coef, self._intercept = parts.coef, parts.intercept
        self._tree_column, self._n_tree_features = parts.tree_column, parts.n_tree_features
        self._trees = TreeEnsemble(parts.xgboost.get_booster())
        self._linear_weight, self._tree_weight = parts.weights / parts.weights.sum()

    def features(
        self, text: str, keyword: str = "", location: str = ""
    ) -> tuple[np.ndarray, np.ndarray]:
        """Sorted column indices and values of the pipeline's feature row for one tweet."""
        row = (text, keyword, location)
        parts = [block.features(row[block.column]) for block in self._blocks]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def __call__(self, text: str, keyword: str = "", location: str = "") -> float:
        indices, data = self.features(text, keyword, location)
        margin = self._intercept + float(np.dot(self._coef[indices], data))
        linear = _sigmoid(margin)
        tree = self._trees.probability(self.tree_row(indices, data))
        return float(self._linear_weight * linear + self._tree_weight * tree)

    def tree_row(self, indices: np.ndarray, data: np.ndarray) -> np.ndarray:
        """The dense float32 row the trees score: the selected columns of a feature row."""
        # Absent entries are missing values to XGBoost, as they were in the sparse training matrix.
        tree_row = np.full(self._n_tree_features, np.nan, dtype=np.float32)
        columns = self._tree_column[indices]
        kept = columns >= 0
        tree_row[columns[kept]] = data[kept]
        return tree_row


def _sigmoid(margin: float) -> float:
    # Two forms so that math.exp never overflows on a large margin of either sign.
    if margin >= 0:
        return 1.0 / (1.0 + math.exp(-margin))
    exp = math.exp(margin)
    return exp / (1.0 + exp)


def _is_used(features: ColumnTransformer, name: str) -> bool:
    index = features.output_indices_[name]
    return index.stop > index.start


def _block(features: ColumnTransformer, name: str) -> _TfidfBlock:
    vectorizer = features.named_transformers_[name]
    column = next(columns for n, _, columns in features.transformers_ if n == name)
    if not isinstance(vectorizer, CachedTfidfVectorizer) or not isinstance(column, int):
        raise TypeError(f"{name}: expected a CachedTfidfVectorizer on one integer column")
    if vectorizer.norm != "l2" or not vectorizer.use_idf:
        raise TypeError(f"{name}: the fast path supports only l2-normalised TF-IDF")
    weights = features.transformer_weights or {}
    return _TfidfBlock(
        column=column,
        vectorizer=vectorizer,
        idf=np.asarray(vectorizer.idf_, dtype=np.float64),
        sublinear_tf=vectorizer.sublinear_tf,
        weight=weights.get(name),
        offset=features.output_indices_[name].start,
    )
