"""The tutorial's model: three vectorizers, hstacked, a default XGBClassifier."""

from __future__ import annotations

import math
import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from xgboost import XGBClassifier

THRESHOLD = 0.5

# The four loose pickles, as in the tutorial.
KEYWORD_FILE = "keyword_vectorizer.pkl"
LOCATION_FILE = "location_vectorizer.pkl"
TFIDF_FILE = "tfidf_vectorizer.pkl"
MODEL_FILE = "model.pkl"


@dataclass(frozen=True)
class SeedModel:
    """The three fitted vectorizers and the fitted classifier."""

    keyword_vectorizer: CountVectorizer
    location_vectorizer: CountVectorizer
    tfidf: TfidfVectorizer
    classifier: XGBClassifier


def _clean(values: Sequence[object]) -> list[str]:
    """Turn missing values (None/NaN) into "" like the tutorial's fillna("")."""
    return ["" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v) for v in values]


def fit(
    texts: Sequence[str],
    keywords: Sequence[object],
    locations: Sequence[object],
    targets: Sequence[int],
) -> SeedModel:
    """Fit the vectorizers and a default XGBClassifier."""
    keyword_vectorizer = CountVectorizer()
    location_vectorizer = CountVectorizer()
    tfidf = TfidfVectorizer()
    features = hstack(
        [
            keyword_vectorizer.fit_transform(_clean(keywords)),
            location_vectorizer.fit_transform(_clean(locations)),
            tfidf.fit_transform(_clean(texts)),
        ],
        format="csr",
    )
    classifier = XGBClassifier()
    classifier.fit(features, np.asarray(targets))
    return SeedModel(keyword_vectorizer, location_vectorizer, tfidf, classifier)


def save(model: SeedModel, directory: str | Path) -> None:
    """Pickle the four artifacts into directory."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    for name, obj in (
        (KEYWORD_FILE, model.keyword_vectorizer),
        (LOCATION_FILE, model.location_vectorizer),
        (TFIDF_FILE, model.tfidf),
        (MODEL_FILE, model.classifier),
    ):
        with open(out / name, "wb") as fh:
            pickle.dump(obj, fh)


def load(directory: str | Path) -> SeedModel:
    """Unpickle the four artifacts (trusted, locally trained files only)."""
    src = Path(directory)
    objs = []
    for name in (KEYWORD_FILE, LOCATION_FILE, TFIDF_FILE, MODEL_FILE):
        with open(src / name, "rb") as fh:
            objs.append(pickle.load(fh))
    return SeedModel(*objs)


def features(
    model: SeedModel,
    texts: Sequence[str],
    keywords: Sequence[object],
    locations: Sequence[object],
) -> csr_matrix:
    """Transform and hstack the three inputs like the tutorial's /predict."""
    return hstack(
        [
            model.keyword_vectorizer.transform(_clean(keywords)),
            model.location_vectorizer.transform(_clean(locations)),
            model.tfidf.transform(_clean(texts)),
        ],
        format="csr",
    )


def predict_proba_batch(
    model: SeedModel,
    texts: Sequence[str],
    keywords: Sequence[object],
    locations: Sequence[object],
) -> np.ndarray:
    """Probability of the "disaster" class for each row."""
    return model.classifier.predict_proba(features(model, texts, keywords, locations))[:, 1]


def predict_proba(model: SeedModel, text: str, keyword: str, location: str) -> float:
    """Probability of the "disaster" class for one tweet."""
    return float(predict_proba_batch(model, [text], [keyword], [location])[0])


def is_disaster(probability: float) -> bool:
    """Apply the tutorial's 0.5 threshold (same rule as XGBClassifier.predict)."""
    return probability > THRESHOLD
