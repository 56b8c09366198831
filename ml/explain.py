"""Why the model gave one tweet its probability: every feature's exact share, added up per word.

The pipeline's probability is p = w_l*s(m_l) + w_t*s(m_t) (s the logistic sigmoid): the linear
model's margin m_l = intercept + sum of coef_j*x_j, XGBoost's m_t = bias + sum of phi_j (its
`pred_contribs`, SHAP values, as ml.tree_ensemble.TreeContributions computes them). Each
member's log-odds terms are carried into probability units by that member's secant factor
k = (s(m) - s(b)) / (m - b) > 0, so that base + all contributions == p exactly and no sign
changes; the features are then mapped back to the words of the tweet (README: Explanations).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.pipeline import Pipeline

from ml.pipeline import KEYWORD, LOCATION, TEXT, fitted_parts
from ml.text import MENTION_TOKEN, NO_KEYWORD, NO_LOCATION, URL_TOKEN
from ml.tfidf import CachedTfidfVectorizer
from ml.tree_ensemble import TreeContributions

if TYPE_CHECKING:
    from ml.model import TrainedModel
    from ml.single_tweet import SingleTweetScorer

TOP_TERMS = 10
ABSENT_TERM = "(words not in the tweet)"
DISASTER, NOT_DISASTER = "disaster", "not_disaster"

# What a feature block's features are made of: words (1-2 grams), character n-grams of words,
# the whole keyword, location words.
_WORDS, _CHARS, _KEYWORD, _LOCATION = range(4)
# Below this margin difference the secant is the derivative (and never 0 through rounding).
_SECANT_EPSILON = 1e-9
# Punctuation around a word ("fire," "#fire" "(fire)") is not part of what a reviewer reads.
_EDGE_PUNCTUATION = re.compile(r"^\W+|\W+$")
_SPECIAL_WORDS = {URL_TOKEN: "(link)", MENTION_TOKEN: "(mention)"}


@dataclass(frozen=True)
class Term:
    """One word (or the keyword, a location word, the absent words) and its share of `score`."""

    term: str
    field: str  # "text" | "keyword" | "location" | "absent"
    contribution: float

    @property
    def direction(self) -> str:
        return DISASTER if self.contribution > 0 else NOT_DISASTER

    def as_dict(self) -> dict[str, Any]:
        return {
            "term": self.term,
            "field": self.field,
            "contribution": self.contribution,
            "direction": self.direction,
        }


@dataclass(frozen=True)
class Member:
    """One voter's exact log-odds decomposition: margin = base + Σ its features' terms."""

    name: str
    weight: float
    base: float
    margin: float

    @property
    def probability(self) -> float:
        return _sigmoid(self.margin)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "weight": self.weight,
            "base": self.base,
            "margin": self.margin,
            "probability": self.probability,
        }


@dataclass(frozen=True)
class Explanation:
    """`score` = `base` + Σ `terms` + `rest` (probability units); `others` are the terms that
    `rest` adds up, largest first."""

    score: float
    base: float
    terms: tuple[Term, ...]
    rest: float
    others: tuple[Term, ...]
    members: tuple[Member, ...]
    unit: str = "probability"

    def as_dict(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "base": self.base,
            "unit": self.unit,
            "terms": [term.as_dict() for term in self.terms],
            "rest": self.rest,
            "rest_count": len(self.others),
            "members": [member.as_dict() for member in self.members],
        }


def explain(
    model: TrainedModel, text: str, keyword: str = "", location: str = "", *, top: int = TOP_TERMS
) -> Explanation:
    """The explanation of `model`'s probability for one tweet, its `top` terms first."""
    return model.explainer().explain(text, keyword, location, top=top)


class Explainer:
    """What explaining one tweet needs of a fitted pipeline, read out once per model."""

    def __init__(self, pipeline: Pipeline, scorer: SingleTweetScorer) -> None:
        parts = fitted_parts(pipeline)
        features = parts.features
        self._scorer = scorer
        self._coef, self._intercept = parts.coef, parts.intercept
        # pred_contribs through XGBoost costs ~1 ms a row; the numpy tables a fraction of it.
        self._tree_contributions = TreeContributions(parts.xgboost.get_booster())
        weights = parts.weights
        self._linear_weight, self._tree_weight = (float(w) for w in weights / weights.sum())
        self._tree_column = parts.tree_column

        # Per feature: its block's kind and its name (a word, "two words", an n-gram, ...).
        self._kind = np.full(scorer.n_features, -1, dtype=np.int8)
        self._name = np.empty(scorer.n_features, dtype=object)
        self._chars: tuple[CachedTfidfVectorizer, int] | None = None
        for name, vectorizer, column in features.transformers_:
            span = features.output_indices_.get(name)
            if vectorizer == "drop" or span is None or span.stop == span.start:
                continue
            if not isinstance(vectorizer, CachedTfidfVectorizer):
                raise TypeError(f"{name}: expected a CachedTfidfVectorizer")
            kind = _block_kind(vectorizer, column)
            self._kind[span] = kind
            self._name[span] = vectorizer.get_feature_names_out()
            if kind == _CHARS:
                self._chars = (vectorizer, span.start)

    def explain(
        self, text: str, keyword: str = "", location: str = "", *, top: int = TOP_TERMS
    ) -> Explanation:
        """The explanation of one tweet, its `top` terms first."""
        indices, data = self._scorer.features(text, keyword, location)
        linear_terms = self._coef[indices] * data
        linear = Member(
            "linear",
            self._linear_weight,
            self._intercept,
            self._intercept + float(linear_terms.sum()),
        )
        # XGBoost's SHAP values (pred_contribs) on the row the scorer builds.
        phi = self._tree_contributions.contributions(self._scorer.tree_row(indices, data))
        bias = self._tree_contributions.bias
        trees = Member("trees", self._tree_weight, bias, bias + float(phi.sum()))

        linear_scale = linear.weight * _secant(linear.base, linear.margin)
        tree_scale = trees.weight * _secant(trees.base, trees.margin)
        # Each present feature's contribution in probability units, from both members.
        per_feature = linear_scale * linear_terms
        columns = self._tree_column[indices]
        kept = columns >= 0
        per_feature[kept] += tree_scale * phi[columns[kept]]
        absent = np.ones(len(phi), dtype=bool)
        absent[columns[kept]] = False

        totals: dict[tuple[str, str], float] = {}
        self._add_features(totals, indices, per_feature)
        self._add_char_ngrams(totals, text, indices, per_feature)
        absent_contribution = tree_scale * float(phi[absent].sum())
        if absent_contribution != 0.0:
            totals[("absent", ABSENT_TERM)] = absent_contribution

        ranked = sorted(
            (Term(term, field, value) for (field, term), value in totals.items()),
            key=lambda t: (-abs(t.contribution), t.field, t.term),
        )
        others = tuple(ranked[top:])
        return Explanation(
            score=linear.weight * linear.probability + trees.weight * trees.probability,
            base=linear.weight * _sigmoid(linear.base) + trees.weight * _sigmoid(trees.base),
            terms=tuple(ranked[:top]),
            # Added up from the terms themselves, so that base + terms + rest == score is a check.
            rest=math.fsum(t.contribution for t in others),
            others=others,
            members=(linear, trees),
        )

    def _add_features(
        self,
        totals: dict[tuple[str, str], float],
        indices: np.ndarray,
        per_feature: np.ndarray,
    ) -> None:
        """Word 1-2 grams onto their words (a bigram half each), keyword and location words."""
        kinds = self._kind[indices]
        for position in np.flatnonzero(kinds != _CHARS):
            index, value = indices[position], float(per_feature[position])
            name, kind = self._name[index], kinds[position]
            if kind == _WORDS:
                words = name.split(" ")
                for word in words:
                    _add(totals, "text", _word_term(word), value / len(words))
            elif kind == _KEYWORD:
                _add(
                    totals, "keyword", f"keyword: {'(none)' if name == NO_KEYWORD else name}", value
                )
            else:
                term = "(none)" if name == NO_LOCATION else name
                _add(totals, "location", f"location: {term}", value)

    def _add_char_ngrams(
        self,
        totals: dict[tuple[str, str], float],
        text: str,
        indices: np.ndarray,
        per_feature: np.ndarray,
    ) -> None:
        """Each character n-gram onto the words containing it, in proportion to how many times
        each contains it (its feature value counts them all)."""
        if self._chars is None:
            return
        vectorizer, offset = self._chars
        term_ids: dict[str, int] = {}
        grams: list[int] = []
        owners: list[int] = []
        for word, word_grams in vectorizer.word_ngram_indices(text):
            owner = term_ids.setdefault(_word_term(word), len(term_ids))
            grams += word_grams
            owners += [owner] * len(word_grams)
        if not grams:
            return
        found, inverse, counts = np.unique(
            np.asarray(grams, dtype=np.int64) + offset, return_inverse=True, return_counts=True
        )
        # The tweet's n-gram features are exactly these, so each is found among `indices`.
        value = per_feature[np.searchsorted(indices, found)]
        shares = np.bincount(owners, weights=(value / counts)[inverse], minlength=len(term_ids))
        for term, owner in term_ids.items():
            _add(totals, "text", term, float(shares[owner]))


def _block_kind(vectorizer: CachedTfidfVectorizer, column: Any) -> int:
    if column == TEXT:
        return _CHARS if vectorizer.analyzer == "char_wb" else _WORDS
    if column == KEYWORD:
        return _KEYWORD
    if column == LOCATION:
        return _LOCATION
    raise TypeError(f"unexpected input column {column!r}")


def _word_term(word: str) -> str:
    """The word a reviewer reads for a token of the cleaned text."""
    bare = _EDGE_PUNCTUATION.sub("", word) or word
    return _SPECIAL_WORDS.get(bare, bare)


def _add(totals: dict[tuple[str, str], float], field: str, term: str, value: float) -> None:
    key = (field, term)
    totals[key] = totals.get(key, 0.0) + value


def _secant(base: float, margin: float) -> float:
    """(s(margin) - s(base)) / (margin - base): the exact factor from log-odds to probability."""
    if abs(margin - base) < _SECANT_EPSILON:
        p = _sigmoid(base)
        return p * (1.0 - p)
    return (_sigmoid(margin) - _sigmoid(base)) / (margin - base)


def _sigmoid(margin: float) -> float:
    # Two forms so that math.exp never overflows on a large margin of either sign.
    if margin >= 0:
        return 1.0 / (1.0 + math.exp(-margin))
    exp = math.exp(margin)
    return exp / (1.0 + exp)
