"""The serving object: a fitted pipeline with its threshold, validation figures and provenance.

What `ml.persistence` saves and loads and what the service predicts with; `ml.train` makes one.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.pipeline import Pipeline

from ml.batch_scoring import BatchScorer
from ml.evaluate import Metrics
from ml.explain import Explainer
from ml.pipeline import input_matrix
from ml.single_tweet import SingleTweetScorer


@dataclass
class TrainedModel:
    """A fitted pipeline with the threshold, validation metrics and provenance that go with it."""

    pipeline: Pipeline
    threshold: float
    validation: Metrics
    n_rows: int
    train_seconds: float
    library_versions: dict[str, str]
    _scorer: SingleTweetScorer | None = field(default=None, init=False, repr=False, compare=False)
    _explainer: Explainer | None = field(default=None, init=False, repr=False, compare=False)
    _batch_scorer: BatchScorer | None = field(default=None, init=False, repr=False, compare=False)

    def __getstate__(self) -> dict:
        # The scorers and explainer only hold views of the pipeline; they are rebuilt after loading.
        return {**self.__dict__, "_scorer": None, "_explainer": None, "_batch_scorer": None}

    def predict_proba(
        self, text: Sequence[str], keyword: Sequence[str], location: Sequence[str]
    ) -> np.ndarray:
        """P(disaster) for each tweet of a batch, in one vectorised call; equal to the
        pipeline's predict_proba (within 1e-9), without scikit-learn's per-step overhead."""
        if self._batch_scorer is None:
            try:
                self._batch_scorer = BatchScorer(self.pipeline)
            except TypeError:  # a pipeline the fast path cannot reproduce
                return self.pipeline.predict_proba(input_matrix(text, keyword, location))[:, 1]
        return self._batch_scorer(text, keyword, location)

    def predict_one(self, text: str, keyword: str = "", location: str = "") -> float:
        """P(disaster) for one tweet; equal to predict_proba on the same input, but much faster."""
        if self._scorer is None:
            self._scorer = SingleTweetScorer(self.pipeline)
        return self._scorer(text, keyword, location)

    def explainer(self) -> Explainer:
        """What `ml.explain.explain` needs of this model, built on first use."""
        if self._explainer is None:
            if self._scorer is None:
                self._scorer = SingleTweetScorer(self.pipeline)
            self._explainer = Explainer(self.pipeline, self._scorer)
        return self._explainer

    def prepare_for_serving(self, n_threads: int = 1) -> None:
        """Limit XGBoost to ``n_threads``; build the single-tweet scorer before the first call."""
        trees = self.pipeline.named_steps["classifier"].named_estimators_["trees"]
        xgb = trees.named_steps["xgboost"]
        xgb.set_params(n_jobs=n_threads)
        xgb.get_booster().set_param({"nthread": n_threads})
        self._scorer = SingleTweetScorer(self.pipeline)
        self._explainer = None
