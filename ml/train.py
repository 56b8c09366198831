"""Training: fit on 80%, pick the F1-best threshold on the other 20%, then refit on all rows."""

import math
import platform
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy
import sklearn
import xgboost
from sklearn.model_selection import train_test_split

from ml.data import Dataset, DatasetError
from ml.evaluate import best_threshold, score

# Artifacts saved before ml.model existed name this module's TrainedModel: unpickling them
# looks it up here, so it stays importable from ml.train.
from ml.model import TrainedModel
from ml.pipeline import build_pipeline, input_matrix


def library_versions() -> dict[str, str]:
    """Versions of the libraries a pickled pipeline depends on."""
    return {
        "python": platform.python_version(),
        "sklearn": sklearn.__version__,
        "xgboost": xgboost.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
    }


def train(
    data: Dataset, *, seed: int = 42, validation_size: float = 0.2, n_jobs: int = 2
) -> TrainedModel:
    """Fit on a stratified split, choose the threshold on the held-out rows, refit on all rows.

    The two fits are independent, so with ``n_jobs >= 2`` they run side by side, each giving
    XGBoost ``n_jobs // 2`` threads. The returned model predicts on one thread.
    """
    data.require_trainable()
    if not 0 < validation_size < 1:
        raise ValueError(f"validation_size must be between 0 and 1, got {validation_size}")
    started = time.perf_counter()
    features = input_matrix(data.text, data.keyword, data.location)
    target = np.asarray(data.target, dtype=np.int64)

    # At least one row of each class on both sides of the split, however small the data set.
    n_validation = min(max(2, math.ceil(validation_size * len(target))), len(target) - 2)
    fit_rows, validation_rows, fit_target, validation_target = train_test_split(
        features, target, test_size=n_validation, stratify=target, random_state=seed
    )
    # Two fits side by side beat one XGBoost with two threads: at this size its threads gain
    # little, and on a busy machine they spin-wait (70 s instead of 20 s to train, measured).
    concurrent_fits = 2 if n_jobs >= 2 else 1
    threads = max(1, n_jobs // concurrent_fits)
    try:
        with ThreadPoolExecutor(max_workers=concurrent_fits) as executor:
            held_out = executor.submit(
                build_pipeline(seed=seed, n_jobs=threads).fit, fit_rows, fit_target
            )
            refit = executor.submit(build_pipeline(seed=seed, n_jobs=threads).fit, features, target)
            proba = held_out.result().predict_proba(validation_rows)[:, 1]
            pipeline = refit.result()
    except ValueError as error:
        # The settings are fixed, so a ValueError here is about the data (no word occurs twice...).
        raise DatasetError(f"cannot train on these {len(data)} rows: {error}") from error
    threshold = best_threshold(validation_target, proba)
    model = TrainedModel(
        pipeline=pipeline,
        threshold=threshold,
        validation=score(validation_target, proba, threshold),
        n_rows=len(target),
        train_seconds=time.perf_counter() - started,
        library_versions=library_versions(),
    )
    # n_jobs is for fitting; one tweet at a time is fastest on one thread (no thread wake-ups).
    model.prepare_for_serving(n_threads=1)
    return model
