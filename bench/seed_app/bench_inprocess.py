"""Time the seed model without HTTP: single-predict latency and batch throughput."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

if not __package__:  # run as a script: make `bench.seed_app` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.seed_app.model import load, predict_proba, predict_proba_batch


def main(argv: Sequence[str] | None = None) -> int:
    """Print one JSON line: p50/p95 single latency (µs) and batch predictions/s."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", required=True, help="CSV with id,keyword,location,text")
    parser.add_argument("--models", required=True, help="directory written by train.py")
    parser.add_argument("--calls", type=int, default=1000, help="single predictions to time")
    parser.add_argument("--warmup", type=int, default=50)
    args = parser.parse_args(argv)

    df = pd.read_csv(args.data)
    texts = df["text"].tolist()
    keywords = df["keyword"].fillna("").tolist()
    locations = df["location"].fillna("").tolist()
    model = load(args.models)

    n = len(texts)
    for i in range(args.warmup):
        predict_proba(model, texts[i % n], keywords[i % n], locations[i % n])
    samples = []
    for i in range(args.calls):
        j = i % n
        t0 = time.perf_counter_ns()
        predict_proba(model, texts[j], keywords[j], locations[j])
        samples.append((time.perf_counter_ns() - t0) / 1000)
    q = statistics.quantiles(samples, n=100)

    t0 = time.perf_counter()
    predict_proba_batch(model, texts, keywords, locations)
    batch_s = time.perf_counter() - t0

    print(
        json.dumps(
            {
                "single_calls": args.calls,
                "single_p50_us": round(statistics.median(samples), 1),
                "single_p95_us": round(q[94], 1),
                "batch_rows": n,
                "batch_seconds": round(batch_s, 4),
                "batch_predictions_per_s": round(n / batch_s, 1),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
