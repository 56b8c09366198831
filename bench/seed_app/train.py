"""Train the seed app's four pickles: python bench/seed_app/train.py --data CSV --out DIR."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

if not __package__:  # run as a script: make `bench.seed_app` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.seed_app.model import fit, save


def main(argv: Sequence[str] | None = None) -> int:
    """Read the Kaggle CSV with pandas, fit, pickle, print rows and seconds."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", required=True, help="CSV with id,keyword,location,text,target")
    parser.add_argument("--out", required=True, help="directory for the four pickles")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    df = pd.read_csv(args.data)
    df["keyword"] = df["keyword"].fillna("")
    df["location"] = df["location"].fillna("")
    model = fit(
        df["text"].tolist(),
        df["keyword"].tolist(),
        df["location"].tolist(),
        df["target"].tolist(),
    )
    save(model, args.out)
    seconds = time.perf_counter() - start
    print(f"rows={len(df)} seconds={seconds:.2f} out={args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
