"""Training: choose the threshold on out-of-fold predictions, then fit on all rows.

The out-of-fold folds are grouped by `ml.groups.group_key`, so near-duplicates of a tweet are
never predicted by a model that saw one of them: the threshold and the validation figures are
not flattered by copies.
"""

import platform
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import scipy
import sklearn
import xgboost
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold
from sklearn.pipeline import Pipeline

from ml.data import Dataset, DatasetError
from ml.evaluate import best_threshold, score
from ml.groups import group_ids

# Artifacts saved before ml.model existed name this module's TrainedModel: unpickling them
# looks it up here, so it stays importable from ml.train.
from ml.model import TrainedModel
from ml.pipeline import build_pipeline, input_matrix

# Three folds: each fold model sees two thirds of the rows, and the three fold fits plus the
# refit on all rows are 3 x 2/3 + 1 = 3 rows-worth of fitting, which 2 cores finish well within
# the retrain budget (timings in the README's benchmark). More folds fit more rows for a
# threshold that moves by a point or so at most.
CV_FOLDS = 3


def library_versions() -> dict[str, str]:
    """Versions of the libraries a pickled pipeline depends on."""
    return {
        "python": platform.python_version(),
        "sklearn": sklearn.__version__,
        "xgboost": xgboost.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
    }


def out_of_fold_splits(
    data: Dataset, *, folds: int = CV_FOLDS, seed: int = 42
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(fit, predict)`` row indices of stratified folds that keep near-duplicates together.

    Every row is predicted exactly once. Data too small for that many grouped folds gets fewer
    folds (no fewer than 2), and if grouping still leaves a fold's fitting rows without one of
    the classes, plain stratified folds.
    """
    target = np.asarray(data.target, dtype=np.int64)
    n_folds = max(2, min(folds, int(np.bincount(target, minlength=2).min())))
    groups = group_ids(data.text)
    if len(np.unique(groups)) >= n_folds:
        grouped = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
        splits = list(grouped.split(groups, target, groups))
        if all(len(np.unique(target[fit])) == 2 for fit, _ in splits):
            return splits
    plain = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    return list(plain.split(groups, target))


def out_of_fold_probabilities(
    data: Dataset,
    *,
    folds: int = CV_FOLDS,
    seed: int = 42,
    n_jobs: int = 2,
    on_fit_done: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """P(disaster) of every row from a pipeline fitted on the other folds (`out_of_fold_splits`),
    so that no row is scored by a model that saw its label or a near-copy of it.

    ``on_fit_done(done, total)`` is called as each of the fold fits ends. DatasetError when the
    pipeline cannot be fitted on these rows.
    """
    probabilities, _ = _fit_out_of_fold(
        data, folds=folds, seed=seed, n_jobs=n_jobs, refit=False, on_fit_done=on_fit_done
    )
    return probabilities


def _fit_out_of_fold(
    data: Dataset,
    *,
    folds: int,
    seed: int,
    n_jobs: int,
    refit: bool,
    on_fit_done: Callable[[int, int], None] | None,
) -> tuple[np.ndarray, Pipeline | None]:
    """The out-of-fold probabilities and, with ``refit``, a pipeline fitted on all rows in the
    same pool of fits."""
    data.require_trainable()
    if folds < 2:
        raise ValueError(f"folds must be at least 2, got {folds}")
    features = input_matrix(data.text, data.keyword, data.location)
    target = np.asarray(data.target, dtype=np.int64)
    splits = out_of_fold_splits(data, folds=folds, seed=seed)

    # Fits side by side beat one XGBoost with several threads: at this size its threads gain
    # little, and on a busy machine they spin-wait (70 s instead of 20 s to train, measured).
    total_fits = len(splits) + refit
    concurrent_fits = max(1, min(n_jobs, total_fits))
    threads = max(1, n_jobs // concurrent_fits)

    def fit(rows: np.ndarray) -> Pipeline:
        return build_pipeline(seed=seed, n_jobs=threads).fit(features[rows], target[rows])

    def predict_held_out(fit_rows: np.ndarray, predict_rows: np.ndarray) -> np.ndarray:
        return fit(fit_rows).predict_proba(features[predict_rows])[:, 1]

    done = iter(range(1, total_fits + 1))
    done_lock = threading.Lock()

    def report(_: Future) -> None:
        if on_fit_done is not None:
            with done_lock:
                on_fit_done(next(done), total_fits)

    out_of_fold = np.empty(len(target), dtype=np.float64)
    try:
        with ThreadPoolExecutor(max_workers=concurrent_fits) as executor:
            # The refit on all rows is the longest: submitted first, it does not finish last.
            everything = executor.submit(fit, np.arange(len(target))) if refit else None
            held_out = [
                (predict_rows, executor.submit(predict_held_out, fit_rows, predict_rows))
                for fit_rows, predict_rows in splits
            ]
            futures = [proba for _, proba in held_out]
            for future in ([everything] if everything else []) + futures:
                future.add_done_callback(report)
            for predict_rows, proba in held_out:
                out_of_fold[predict_rows] = proba.result()
            pipeline = everything.result() if everything else None
    except ValueError as error:
        # The settings are fixed, so a ValueError here is about the data (no word occurs twice...).
        raise DatasetError(f"cannot train on these {len(data)} rows: {error}") from error
    return out_of_fold, pipeline


def train(
    data: Dataset,
    *,
    seed: int = 42,
    n_jobs: int = 2,
    folds: int = CV_FOLDS,
    on_fit_done: Callable[[int, int], None] | None = None,
) -> TrainedModel:
    """Fit on all rows at the threshold that maximises out-of-fold F1.

    ``folds`` models, each fitted on the other folds, predict every row once
    (`out_of_fold_probabilities`); the threshold is the F1-best one on these out-of-fold
    probabilities, and ``TrainedModel.validation`` scores them at that threshold (``n`` is every
    row). The model returned is a separate fit on all rows. The fits are independent, so with
    ``n_jobs >= 2`` up to ``n_jobs`` run side by side, each giving XGBoost ``n_jobs`` divided
    among them. The returned model predicts on one thread. ``on_fit_done(done, total)`` is called
    as each of the ``folds + 1`` fits ends.
    """
    started = time.perf_counter()
    out_of_fold, pipeline = _fit_out_of_fold(
        data, folds=folds, seed=seed, n_jobs=n_jobs, refit=True, on_fit_done=on_fit_done
    )
    target = np.asarray(data.target, dtype=np.int64)
    threshold = best_threshold(target, out_of_fold)
    model = TrainedModel(
        pipeline=pipeline,
        threshold=threshold,
        validation=score(target, out_of_fold, threshold),
        n_rows=len(target),
        train_seconds=time.perf_counter() - started,
        library_versions=library_versions(),
    )
    # n_jobs is for fitting; one tweet at a time is fastest on one thread (no thread wake-ups).
    model.prepare_for_serving(n_threads=1)
    return model
