"""Measure training time, validation metrics and serving speed: python -m ml.benchmark --data PATH

Serving is measured on a model saved and loaded back, as the web service uses it (XGBoost on one
thread). ``--cv-folds 5`` also cross-validates the whole training procedure on the data.
"""

import argparse
import statistics
import sys
import tempfile
import time

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from ml.data import Dataset, DatasetError, read_csv
from ml.evaluate import Metrics, evaluate
from ml.groups import group_ids
from ml.model import TrainedModel
from ml.persistence import load, save
from ml.train import train


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ml.benchmark", description=__doc__)
    parser.add_argument("--data", required=True, help="labelled CSV: keyword,location,text,target")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--n-jobs", type=int, default=2, help="threads for training")
    parser.add_argument("--calls", type=int, default=2000, help="predict_one calls to time")
    parser.add_argument(
        "--cv-folds", type=int, default=0, help="also cross-validate training (0: skip)"
    )
    args = parser.parse_args(argv)
    try:
        data = read_csv(args.data)
        data.require_trainable()
    except DatasetError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1

    model = train(data, seed=args.seed, n_jobs=args.n_jobs)
    print(f"rows                {len(data)}")
    print(f"train seconds       {model.train_seconds:.1f} (out-of-fold fits + refit on all rows)")
    print(f"validation          {_metrics_line(model.validation)} out-of-fold")

    with tempfile.TemporaryDirectory() as directory:
        artifact = save(model, directory, "benchmark")
        served = load(artifact.path, artifact.sha256)
    print(f"artifact            {artifact.size / 1e6:.1f} MB")
    _time_predict_one(served, data, args.calls)
    _time_batch(served, data)

    if args.cv_folds:
        _cross_validate(data, folds=args.cv_folds, seed=args.seed, n_jobs=args.n_jobs)
    return 0


def _metrics_line(metrics: Metrics) -> str:
    auc = "n/a" if metrics.roc_auc is None else f"{metrics.roc_auc:.4f}"
    return (
        f"F1 {metrics.f1:.4f}  accuracy {metrics.accuracy:.4f}  precision {metrics.precision:.4f}"
        f"  recall {metrics.recall:.4f}  ROC AUC {auc}  threshold {metrics.threshold:.2f}"
        f"  (n={metrics.n})"
    )


def _time_predict_one(model: TrainedModel, data: Dataset, calls: int) -> None:
    seconds = []
    for i in range(calls):
        row = i % len(data)
        started = time.perf_counter()
        model.predict_one(data.text[row], data.keyword[row], data.location[row])
        seconds.append(time.perf_counter() - started)
    cuts = statistics.quantiles(seconds, n=100)
    print(
        f"predict_one         p50 {cuts[49] * 1e3:.3f} ms  p99 {cuts[98] * 1e3:.3f} ms"
        f"  ({calls} calls on distinct rows from a fresh load)"
    )


def _time_batch(model: TrainedModel, data: Dataset) -> None:
    rates = []
    for _ in range(3):
        started = time.perf_counter()
        model.predict_proba(data.text, data.keyword, data.location)
        rates.append(len(data) / (time.perf_counter() - started))
    print(
        f"predict_proba       {rates[0]:,.0f} rows/s on the first call, "
        f"{max(rates[1:]):,.0f} rows/s after (whole set, {len(data)} rows)"
    )


def _cross_validate(data: Dataset, *, folds: int, seed: int, n_jobs: int) -> None:
    """Train on k-1 folds and score the held-out fold, k times; near-duplicates stay in one fold."""
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    rows = data.rows()
    groups = group_ids(data.text)
    results = []
    for fold, (fit_rows, test_rows) in enumerate(
        splitter.split(rows, data.target, groups), start=1
    ):
        model = train(Dataset.from_rows(rows[i] for i in fit_rows), seed=seed, n_jobs=n_jobs)
        metrics = evaluate(model, Dataset.from_rows(rows[i] for i in test_rows))
        results.append(metrics)
        print(f"cv fold {fold}           {_metrics_line(metrics)}")
    for name in ("f1", "accuracy", "precision", "recall", "roc_auc"):
        values = np.array([getattr(m, name) for m in results], dtype=float)
        print(f"cv {name:<16} {values.mean():.4f} ± {values.std():.4f}")


if __name__ == "__main__":
    sys.exit(main())
