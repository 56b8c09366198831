"""Time one model without HTTP, the same way for ours and the seed; prints one JSON line.

    python -m bench.inprocess ours --data train.csv    # the active model of $DATA_DIR
    python -m bench.inprocess seed --data train.csv --models bench/out/seed/models

Single: `predict_one` (ours) or the seed's `predict_proba` on distinct rows, after a warm-up.
Batch: one vectorised call over the whole file, three times; the median rate.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

if not __package__:  # run as a script: make `bench` and `ml` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ml.data import Dataset, read_csv

Single = Callable[[str, str, str], float]
Batch = Callable[[Sequence[str], Sequence[str], Sequence[str]], object]


def time_single(predict: Single, data: Dataset, *, calls: int, warmup: int = 50) -> dict:
    """p50/p99 milliseconds of `calls` single predictions on distinct rows."""
    n = len(data)
    for i in range(warmup):
        predict(data.text[i % n], data.keyword[i % n], data.location[i % n])
    seconds = []
    for i in range(calls):
        row = (warmup + i) % n
        started = time.perf_counter()
        predict(data.text[row], data.keyword[row], data.location[row])
        seconds.append(time.perf_counter() - started)
    cuts = statistics.quantiles(seconds, n=100, method="inclusive")
    return {"calls": calls, "p50_ms": cuts[49] * 1e3, "p99_ms": cuts[98] * 1e3}


def time_batch(predict: Batch, data: Dataset, *, repeats: int = 3) -> dict:
    """Predictions per second over the whole data set in one call (median of `repeats`)."""
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        predict(data.text, data.keyword, data.location)
        rates.append(len(data) / (time.perf_counter() - started))
    return {"rows": len(data), "per_s": statistics.median(rates), "first_per_s": rates[0]}


def ours() -> tuple[Single, Batch, str]:
    """The active model of this DATA_DIR, loaded as the server loads it."""
    import django

    django.setup()
    from predictor.active_model import active_model

    current = active_model.get()
    return current.model.predict_one, current.model.predict_proba, current.version.name


def seed(models_dir: Path) -> tuple[Single, Batch, str]:
    from bench.seed_app import model as seed_model

    loaded = seed_model.load(models_dir)

    def single(text: str, keyword: str, location: str) -> float:
        return seed_model.predict_proba(loaded, text, keyword, location)

    def batch(text: Sequence[str], keyword: Sequence[str], location: Sequence[str]) -> object:
        return seed_model.predict_proba_batch(loaded, text, keyword, location)

    return single, batch, str(models_dir)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.inprocess", description=__doc__)
    parser.add_argument("which", choices=["ours", "seed"])
    parser.add_argument("--data", required=True, type=Path, help="CSV: keyword,location,text")
    parser.add_argument("--models", type=Path, help="the seed's pickles (seed only)")
    parser.add_argument("--calls", type=int, default=2000, help="single predictions to time")
    args = parser.parse_args(argv)
    if args.which == "seed" and args.models is None:
        parser.error("seed needs --models")

    data = read_csv(args.data)
    started = time.perf_counter()
    single, batch, model = ours() if args.which == "ours" else seed(args.models)
    load_s = time.perf_counter() - started
    result = {
        "model": model,
        "load_s": load_s,
        "single": time_single(single, data, calls=args.calls),
        "batch": time_batch(batch, data),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
