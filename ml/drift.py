"""Drift figures of a set of tweets as a trained model sees them: the share it calls a disaster,
its mean probability, and the share of words its word vectorizer has never seen."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

import numpy as np

from ml.data import Dataset
from ml.model import TrainedModel
from ml.tfidf import CachedTfidfVectorizer


@dataclass(frozen=True)
class DriftReference:
    """What held-out tweets of the training data look like to a model: the yardstick that live
    traffic is held against. `n` rows; shares and the mean probability are 0 to 1."""

    n: int
    disaster_share: float
    mean_probability: float
    oov_share: float | None

    def as_dict(self) -> dict[str, float | int | None]:
        return asdict(self)


def word_vectorizer(model: TrainedModel) -> CachedTfidfVectorizer:
    """The fitted vectorizer of the text's words (ml.pipeline's "words" column)."""
    return model.pipeline.named_steps["features"].named_transformers_["words"]


def oov_share(vectorizer: CachedTfidfVectorizer, texts: Iterable[str]) -> float | None:
    """The share of the words of `texts` (cleaned and split as the vectorizer does) that are not
    in its vocabulary, over all words together; None when the texts hold no word."""
    preprocess = vectorizer.build_preprocessor()
    tokenize = vectorizer.build_tokenizer()
    vocabulary = vectorizer.vocabulary_
    words = unknown = 0
    for text in texts:
        for token in tokenize(preprocess(text)):
            words += 1
            unknown += token not in vocabulary
    return unknown / words if words else None


def drift_reference(model: TrainedModel, data: Dataset) -> DriftReference:
    """The drift figures of `data` (rows the model was not fitted on) under `model`."""
    if not len(data):
        raise ValueError("no rows to compute drift reference figures on")
    probabilities = np.asarray(model.predict_proba(data.text, data.keyword, data.location))
    return DriftReference(
        n=len(data),
        disaster_share=float(np.mean(probabilities >= model.threshold)),
        mean_probability=float(np.mean(probabilities)),
        oov_share=oov_share(word_vectorizer(model), data.text),
    )
