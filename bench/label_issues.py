"""How well the label check finds wrong labels: plant them among "reviews" and count them.

    python -m bench.label_issues [--data CSV] [--reviews 1500] [--share 0.1] [--seeds 1 2 3]
                                 [--folds 5] [--top 100] [--n-jobs 2]

From the labelled data, ``--reviews`` rows drawn at random play the reviewed predictions; the
labels of ``--share`` of them are flipped (the planted errors). The check (ml.label_issues) runs
over the other rows (the base data) plus the reviews, as `manage.py label_issues` does, and this
prints, per seed and suspicion method: precision among the ``--top`` most suspicious reviews
(chance: ``--share``), the planted errors' recall among the flagged reviews, how many base rows
are flagged (their truth is unknown), and the wall time.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from ml.data import Dataset, read_csv
from ml.label_issues import SUSPICION_METHODS, label_issues_find, suspicion_scores

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "train.csv"


def planted(data: Dataset, *, reviews: int, share: float, seed: int) -> tuple[Dataset, int, set]:
    """Base rows then `reviews` drawn rows, `share` of the latter flipped: (data, first review
    row, the flipped rows' indices)."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(data))
    review_rows, base_rows = order[:reviews], np.sort(order[reviews:])
    flipped = set(rng.choice(reviews, size=round(reviews * share), replace=False).tolist())
    rows = data.rows()
    drawn = [rows[i] for i in review_rows]
    drawn = [(*row[:3], 1 - row[3]) if i in flipped else row for i, row in enumerate(drawn)]
    first = len(base_rows)
    return (
        Dataset.from_rows([rows[i] for i in base_rows] + drawn),
        first,
        {first + i for i in flipped},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--reviews", type=int, default=1500)
    parser.add_argument("--share", type=float, default=0.1)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--top", type=int, default=100)
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args()

    data = read_csv(args.data)
    print(
        f"{len(data):,} rows of {args.data.name}; {args.reviews:,} as reviews, "
        f"{args.share:.0%} of them flipped; {args.folds} folds; precision@{args.top} among "
        f"reviews (chance {args.share:.0%})"
    )
    results: dict[str, list[float]] = {method: [] for method in SUSPICION_METHODS}
    recalls, flagged_reviews, flagged_base, seconds = [], [], [], []
    for seed in args.seeds:
        checked, first_review, wrong = planted(
            data, reviews=args.reviews, share=args.share, seed=seed
        )
        started = time.perf_counter()
        issues = label_issues_find(checked, folds=args.folds, n_jobs=args.n_jobs, seed=seed)
        seconds.append(time.perf_counter() - started)
        target = np.asarray(checked.target)
        review_rows = np.arange(first_review, len(checked))
        line = [f"seed {seed}:"]
        for method in SUSPICION_METHODS:
            scores = suspicion_scores(issues.probability, target, issues.thresholds, method=method)
            ranked = review_rows[np.argsort(-scores[review_rows], kind="stable")][: args.top]
            precision = sum(int(row) in wrong for row in ranked) / len(ranked)
            results[method].append(precision)
            line.append(f"{method} {precision:.2f}")
        flagged = set(np.flatnonzero(issues.flagged).tolist())
        reviews_flagged = flagged & set(review_rows.tolist())
        recalls.append(len(reviews_flagged & wrong) / len(wrong))
        flagged_reviews.append(len(reviews_flagged))
        flagged_base.append(len(flagged) - len(reviews_flagged))
        line.append(
            f"| flagged reviews {len(reviews_flagged)} ({len(reviews_flagged & wrong)} planted, "
            f"recall {recalls[-1]:.2f}), flagged base rows {flagged_base[-1]:,} of "
            f"{first_review:,} | thresholds {issues.thresholds[0]:.3f} / "
            f"{issues.thresholds[1]:.3f} | {seconds[-1]:.1f} s"
        )
        print(" ".join(line), flush=True)
    for method, values in results.items():
        print(
            f"precision@{args.top} {method}: mean {statistics.mean(values):.3f}, "
            f"min {min(values):.3f} (chance {args.share:.3f})"
        )
    print(
        f"planted recall among flagged: mean {statistics.mean(recalls):.3f}; flagged reviews "
        f"mean {statistics.mean(flagged_reviews):.0f}; flagged base rows mean "
        f"{statistics.mean(flagged_base):.0f}; wall time mean {statistics.mean(seconds):.1f} s, "
        f"max {max(seconds):.1f} s"
    )


if __name__ == "__main__":
    main()
