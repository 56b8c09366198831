"""Scoring a batch of tweets by a fitted pipeline, without scikit-learn's per-call overhead.

`Pipeline.predict_proba` runs each of the four TF-IDF vectorizers on its own (the text is
cleaned twice), builds and sorts four sparse matrices, stacks them, validates them at every
step and selects the trees' columns with fancy indexing. Here every term occurrence of the
batch is collected once (`CachedTfidfVectorizer.term_occurrences`), sorted once, and the
TF-IDF weights, the logistic regression and the trees' input come from flat numpy arrays.
tests/ml/test_batch_scoring.py checks the features and probabilities against the pipeline's on
whole data sets.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.special import expit
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline

from ml.pipeline import fitted_parts
from ml.tfidf import CachedTfidfVectorizer


@dataclass(frozen=True)
class _Block:
    """One fitted vectorizer of the ColumnTransformer and where its output columns start."""

    column: int
    vectorizer: CachedTfidfVectorizer
    idf: np.ndarray
    sublinear_tf: bool
    weight: float
    offset: int


def _block(features: ColumnTransformer, name: str, vectorizer: object, column: object) -> _Block:
    if not isinstance(vectorizer, CachedTfidfVectorizer) or not isinstance(column, int):
        raise TypeError(f"{name}: expected a CachedTfidfVectorizer on one integer column")
    if vectorizer.norm != "l2" or not vectorizer.use_idf or vectorizer.binary:
        raise TypeError(f"{name}: the fast path supports only l2-normalised, counted TF-IDF")
    return _Block(
        column=column,
        vectorizer=vectorizer,
        idf=np.asarray(vectorizer.idf_, dtype=np.float64),
        sublinear_tf=vectorizer.sublinear_tf,
        weight=(features.transformer_weights or {}).get(name, 1.0),
        offset=features.output_indices_[name].start,
    )


class BatchScorer:
    """Computes the pipeline's P(disaster) for a batch of tweets, equal to its predict_proba."""

    def __init__(self, pipeline: Pipeline) -> None:
        parts = fitted_parts(pipeline)
        features = parts.features
        self._blocks = sorted(
            (
                _block(features, name, transformer, column)
                for name, transformer, column in features.transformers_
                if transformer != "drop"
                and features.output_indices_[name].stop > features.output_indices_[name].start
            ),
            key=lambda block: block.offset,
        )
        self.n_features = parts.n_features
        self._coef, self._intercept = parts.coef, parts.intercept
        self._xgboost = parts.xgboost
        self._tree_column, self._n_tree_features = parts.tree_column, parts.n_tree_features
        self._weights = parts.weights

        # Per feature column: its block, its idf and whether its tf is sublinear; per block, its
        # weight (applied after normalisation, as ColumnTransformer does).
        n = self.n_features
        self._column_block = np.zeros(n, dtype=np.int8)
        self._block_weight = np.array([block.weight for block in self._blocks], dtype=np.float64)
        self._idf = np.ones(n)
        self._sublinear = np.zeros(n, dtype=bool)
        for position, block in enumerate(self._blocks):
            columns = slice(block.offset, block.offset + len(block.idf))
            self._column_block[columns] = position
            self._idf[columns] = block.idf
            self._sublinear[columns] = block.sublinear_tf
        # Blocks whose vectorizers preprocess the same column with the same function share it.
        self._shared_preprocessing = {}
        for block in self._blocks:
            vectorizer = block.vectorizer
            if vectorizer.analyzer in ("word", "char_wb") and vectorizer.preprocessor is not None:
                key = (
                    block.column,
                    vectorizer.preprocessor,
                    vectorizer.input,
                    vectorizer.encoding,
                    vectorizer.decode_error,
                )
                self._shared_preprocessing.setdefault(key, []).append(block)

    def features(
        self, text: Sequence[str], keyword: Sequence[str], location: Sequence[str]
    ) -> sp.csr_matrix:
        """The pipeline's feature matrix for the batch, CSR with sorted indices."""
        rows, columns, values = self._entries((text, keyword, location))
        indptr = np.zeros(len(text) + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=len(text)), out=indptr[1:])
        return sp.csr_matrix((values, columns, indptr), shape=(len(text), self.n_features))

    def __call__(
        self, text: Sequence[str], keyword: Sequence[str], location: Sequence[str]
    ) -> np.ndarray:
        """P(disaster) of each tweet."""
        n = len(text)
        if not (n == len(keyword) == len(location)):
            raise ValueError("text, keyword and location must have the same length")
        if n == 0:
            return np.empty(0)
        rows, columns, values = self._entries((text, keyword, location))
        margin = np.bincount(rows, weights=values * self._coef[columns], minlength=n)
        linear = expit(margin + self._intercept)

        tree_columns = self._tree_column[columns]
        kept = tree_columns >= 0
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows[kept], minlength=n), out=indptr[1:])
        selected = sp.csr_matrix(
            (values[kept], tree_columns[kept], indptr), shape=(n, self._n_tree_features)
        )
        trees = self._xgboost.predict_proba(selected)[:, 1]
        # VotingClassifier's soft vote: np.average over the voters' probabilities.
        w_linear, w_trees = self._weights
        return (w_linear * linear + w_trees * trees) / (w_linear + w_trees)

    def _entries(self, columns: tuple[Sequence[str], ...]) -> tuple[np.ndarray, ...]:
        """Row, column and value of every non-zero feature, sorted by row then column."""
        n = len(columns[0])
        preprocessed: dict[int, list[str]] = {}
        for key, blocks in self._shared_preprocessing.items():
            if len(blocks) > 1:
                texts = blocks[0].vectorizer.preprocessed(columns[key[0]])
                for block in blocks:
                    preprocessed[id(block)] = texts
        rows, indices = [], []
        for block in self._blocks:
            row, index = block.vectorizer.term_occurrences(
                columns[block.column], preprocessed=preprocessed.get(id(block))
            )
            rows.append(row)
            indices.append(index + block.offset)
        # One sort of (row, column) keys counts every term of every row; int32 keys sort faster.
        dtype = np.int32 if n * self.n_features < 2**31 else np.int64
        keys = np.concatenate(rows).astype(dtype)
        keys *= self.n_features
        keys += np.concatenate(indices).astype(dtype)
        keys.sort()
        if not len(keys):
            empty = np.empty(0, dtype=np.int64)
            return empty, empty, np.empty(0)
        first = np.empty(len(keys), dtype=bool)
        first[:1] = True
        np.not_equal(keys[1:], keys[:-1], out=first[1:])
        starts = np.flatnonzero(first)
        counts = np.diff(starts, append=len(keys))
        row, column = np.divmod(keys[starts], self.n_features)

        # TfidfTransformer: 1 + log(count) when sublinear (from a table: counts are small),
        # times idf, then each row of each block l2-normalised; then ColumnTransformer's weight.
        values = counts.astype(np.float64)
        if self._sublinear.any():
            ones_plus_log = np.log(np.arange(1, counts.max() + 1, dtype=np.float64)) + 1.0
            values = np.where(self._sublinear[column], ones_plus_log[counts - 1], values)
        values *= self._idf[column]
        block = self._column_block[column]
        boundary = np.empty(len(row), dtype=bool)
        boundary[:1] = True
        np.not_equal(row[1:], row[:-1], out=boundary[1:])
        boundary[1:] |= block[1:] != block[:-1]
        segment_starts = np.flatnonzero(boundary)
        norms = np.sqrt(np.add.reduceat(values * values, segment_starts))
        scale = self._block_weight[block[segment_starts]] / norms
        values *= np.repeat(scale, np.diff(segment_starts, append=len(values)))
        return row, column, values
