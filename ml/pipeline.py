"""The one scikit-learn Pipeline from raw (text, keyword, location) columns to P(disaster)."""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import VotingClassifier
from sklearn.feature_selection import SelectPercentile, chi2
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from xgboost import XGBClassifier

from ml.text import clean_location, clean_text, whole_keyword
from ml.tfidf import CachedTfidfVectorizer

# Column order of the 2-D object array the pipeline is fed (see input_matrix).
TEXT, KEYWORD, LOCATION = 0, 1, 2

# Chosen by 5-fold cross-validation of the whole training procedure on the full data set
# (python -m ml.benchmark --cv-folds 5; the figures are in docs/model.md): the alternatives
# (the 1000 best features for XGBoost rather than the best 2%, the linear model alone, an even
# vote, shorter or deeper boosting, C=2 or 4) did no better, within fold-to-fold noise, so the
# more regularised choice was kept where it was close.
LINEAR_C = 1.0
TREE_WEIGHT = 0.3
TREE_FEATURE_PERCENT = 2
LOCATION_WEIGHT = 0.3
LOCATION_WORDS = 300


def input_matrix(
    text: Sequence[str], keyword: Sequence[str], location: Sequence[str]
) -> np.ndarray:
    """Stack the three raw columns into the (n, 3) object array the pipeline expects."""
    matrix = np.empty((len(text), 3), dtype=object)
    matrix[:, TEXT] = text
    matrix[:, KEYWORD] = keyword
    matrix[:, LOCATION] = location
    return matrix


def build_features() -> ColumnTransformer:
    """TF-IDF of words and characters of the text, the keyword as one token, location words."""
    return ColumnTransformer(
        [
            (
                "words",
                CachedTfidfVectorizer(
                    preprocessor=clean_text, ngram_range=(1, 2), min_df=2, sublinear_tf=True
                ),
                TEXT,
            ),
            (
                "chars",
                CachedTfidfVectorizer(
                    preprocessor=clean_text,
                    analyzer="char_wb",
                    ngram_range=(2, 5),
                    min_df=2,
                    sublinear_tf=True,
                ),
                TEXT,
            ),
            ("keyword", CachedTfidfVectorizer(analyzer=whole_keyword), KEYWORD),
            (
                "location",
                # A cap rather than min_df, so that a small set of distinct locations
                # still leaves a vocabulary.
                CachedTfidfVectorizer(
                    preprocessor=clean_location, max_features=LOCATION_WORDS, sublinear_tf=True
                ),
                LOCATION,
            ),
        ],
        # Location is noisy free text: on its own weight it cost F1 in cross-validation.
        transformer_weights={"location": LOCATION_WEIGHT},
    )


def build_classifier(*, seed: int, n_jobs: int) -> VotingClassifier:
    """Soft vote of a logistic regression on all features and XGBoost on the 2% most telling."""
    trees = Pipeline(
        [
            ("select", SelectPercentile(chi2, percentile=TREE_FEATURE_PERCENT)),
            (
                "xgboost",
                XGBClassifier(
                    n_estimators=400,
                    learning_rate=0.05,
                    max_depth=4,
                    subsample=0.8,
                    colsample_bytree=0.5,
                    tree_method="hist",
                    eval_metric="logloss",
                    random_state=seed,
                    n_jobs=n_jobs,
                ),
            ),
        ]
    )
    return VotingClassifier(
        [("linear", LogisticRegression(C=LINEAR_C, max_iter=2000)), ("trees", trees)],
        voting="soft",
        weights=[1 - TREE_WEIGHT, TREE_WEIGHT],
    )


def build_pipeline(*, seed: int, n_jobs: int) -> Pipeline:
    """An unfitted Pipeline from the raw (n, 3) object array to P(disaster).

    ``n_jobs`` is the number of threads XGBoost fits with; the rest is single-threaded.
    """
    return Pipeline(
        [("features", build_features()), ("classifier", build_classifier(seed=seed, n_jobs=n_jobs))]
    )


@dataclass(frozen=True)
class FittedParts:
    """What the fast scorers and the explainer read out of a fitted pipeline of this shape."""

    features: ColumnTransformer
    n_features: int
    coef: np.ndarray
    intercept: float
    xgboost: XGBClassifier
    # Per feature column, its column among the trees' (selected) inputs, or -1.
    tree_column: np.ndarray
    n_tree_features: int
    # The soft vote's weights of the linear model and the trees, as VotingClassifier has them.
    weights: np.ndarray


def fitted_parts(pipeline: Pipeline) -> FittedParts:
    """The fitted parts of a pipeline that build_pipeline made; TypeError for any other."""
    features, voting = pipeline.named_steps["features"], pipeline.named_steps["classifier"]
    if not isinstance(features, ColumnTransformer) or not isinstance(voting, VotingClassifier):
        raise TypeError("expected a ColumnTransformer followed by a VotingClassifier")
    if list(voting.classes_) != [0, 1]:
        raise TypeError(f"expected classes [0, 1], got {list(voting.classes_)}")
    linear, trees = voting.named_estimators_["linear"], voting.named_estimators_["trees"]
    if not isinstance(linear, LogisticRegression):
        raise TypeError("the first voter must be a LogisticRegression")
    selector, xgboost = trees.named_steps["select"], trees.named_steps["xgboost"]
    if not isinstance(xgboost, XGBClassifier):
        raise TypeError("the second voter must end in an XGBClassifier")
    n_features = max(features.output_indices_.values(), key=lambda s: s.stop).stop
    selected = selector.get_support(indices=True)
    tree_column = np.full(n_features, -1, dtype=np.int64)
    tree_column[selected] = np.arange(len(selected))
    return FittedParts(
        features=features,
        n_features=n_features,
        coef=np.ascontiguousarray(linear.coef_[0], dtype=np.float64),
        intercept=float(linear.intercept_[0]),
        xgboost=xgboost,
        tree_column=tree_column,
        n_tree_features=len(selected),
        weights=np.asarray(voting.weights if voting.weights is not None else [1, 1], float),
    )
