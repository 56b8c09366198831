"""Calibrate the promotion gate (ml.gate) on simulated retrains with the shared data.

    .venv/bin/python -m bench.gate_simulation --data ../shared/data/train.csv --seeds 1 2 3

Per seed, train.csv is split by near-duplicate groups into unseen (1,500 rows), stream
(1,500 rows: the tweets that get reviewed) and base (the rest). In every scenario the evaluation
set is an `evaluation_split` slice of the base plus the audit items (1 in 10 reviews, whose
labels join the evaluation set instead of training); the active model trains on the base minus
that slice, the candidate also on the other reviews. Scenarios:

- poisoned: the whole base; all 1,500 stream tweets reviewed with flipped labels, audit too;
- helpful: a 2,000-row base; the 1,000 stream tweets nearest the active threshold reviewed right;
- poisoned-mild: as poisoned, but only 500 random stream tweets reviewed (a subtler attack);
- seed: the helpful scenario's active recipe retrained with another seed (pure noise);
- few-reviews: the helpful base plus 50 right reviews in uncertainty order (about noise);
- seed-large: the poisoned scenario's active recipe with another seed (noise on a larger set).

Prints one line per scenario and seed: evaluation n, both F1s on it, dF1 with its 95% interval,
the Brier score's gain (active minus candidate) with its 95% interval, McNemar b/c/p, the
verdict under the current rule (ml.gate), and both models' F1 on the unseen rows. With
``--power``, also how often the rule (without its minimum size) would promote each pair on
random evaluation sets of 100 to 1,000 of the unseen rows: the false-promotion rate of noise
and the power for real gains, per size. No Django.
"""

import argparse
import sys
import time
from dataclasses import dataclass

import numpy as np

from ml.data import Dataset, read_csv
from ml.evaluate import evaluate
from ml.gate import compare, compare_models
from ml.groups import evaluation_split, group_ids
from ml.model import TrainedModel
from ml.train import train

UNSEEN_ROWS = 1500
STREAM_ROWS = 1500
SMALL_BASE_ROWS = 2000
HELPFUL_REVIEWS = 1000
MILD_POISON_REVIEWS = 500
FEW_REVIEWS = 50
AUDIT_EVERY = 10
POWER_SIZES = (100, 200, 300, 500, 1000)
POWER_DRAWS = 100


@dataclass(frozen=True)
class Split:
    """Row indices of train.csv: unseen, stream and base never share a near-duplicate group."""

    unseen: np.ndarray
    stream: np.ndarray
    base: np.ndarray


def take_groups(rows: np.ndarray, groups: np.ndarray, size: int, rng) -> np.ndarray:
    """About ``size`` of ``rows``, whole near-duplicate groups at a time, in random order."""
    members: dict[int, list[int]] = {}
    for row in rows.tolist():
        members.setdefault(int(groups[row]), []).append(row)
    chosen: list[int] = []
    for group in rng.permutation(sorted(members)).tolist():
        if len(chosen) >= size:
            break
        chosen.extend(members[group])
    return np.sort(np.array(chosen, dtype=np.int64))


def split_by_groups(data: Dataset, seed: int) -> Split:
    """Unseen, stream and base rows for one seed."""
    rng = np.random.default_rng(seed)
    groups = group_ids(data.text)
    everything = np.arange(len(data))
    unseen = take_groups(everything, groups, UNSEEN_ROWS, rng)
    rest = np.setdiff1d(everything, unseen)
    stream = take_groups(rest, groups, STREAM_ROWS, rng)
    return Split(unseen=unseen, stream=stream, base=np.setdiff1d(rest, stream))


def subset(data: Dataset, rows, flip: bool = False) -> Dataset:
    """The given rows of ``data``; with ``flip`` every label reversed (a hostile reviewer)."""
    all_rows = data.rows()
    return Dataset.from_rows(
        (text, keyword, location, 1 - target if flip else target)
        for text, keyword, location, target in (all_rows[i] for i in rows)
    )


def concat(*parts: Dataset) -> Dataset:
    return Dataset.from_rows(row for part in parts for row in part.rows())


def audit_split(reviews: np.ndarray, rng) -> tuple[np.ndarray, np.ndarray]:
    """1 in AUDIT_EVERY reviews, drawn at random, are audit items; the rest train."""
    audit = rng.choice(len(reviews), size=len(reviews) // AUDIT_EVERY, replace=False)
    is_audit = np.zeros(len(reviews), dtype=bool)
    is_audit[audit] = True
    return reviews[~is_audit], reviews[is_audit]


def uncertain_first(model: TrainedModel, data: Dataset, rows: np.ndarray) -> np.ndarray:
    """``rows`` ordered by how close the model's probability is to its threshold."""
    stream = subset(data, rows)
    proba = model.predict_proba(stream.text, stream.keyword, stream.location)
    return rows[np.argsort(np.abs(proba - model.threshold), kind="stable")]


def promote_rates(
    candidate: TrainedModel, active: TrainedModel, unseen: Dataset, seed: int
) -> list[float]:
    """Share of POWER_DRAWS random subsets of ``unseen``, per size, on which the rule promotes."""
    columns = (unseen.text, unseen.keyword, unseen.location)
    y = np.asarray(unseen.target)
    candidate_p, active_p = candidate.predict_proba(*columns), active.predict_proba(*columns)
    rng = np.random.default_rng(seed)
    rates = []
    for size in POWER_SIZES:
        promoted = 0
        for draw in range(POWER_DRAWS):
            rows = rng.choice(len(y), size=size, replace=False)
            promoted += compare(
                y[rows],
                candidate_p[rows],
                active_p[rows],
                candidate_threshold=candidate.threshold,
                active_threshold=active.threshold,
                seed=draw,
                min_rows=0,
            ).promote
        rates.append(promoted / POWER_DRAWS)
    return rates


POWER: dict[str, list[list[float]]] = {}


def report(
    name: str,
    seed: int,
    candidate: TrainedModel,
    active: TrainedModel,
    evaluation: Dataset,
    unseen: Dataset,
    *,
    power: bool = False,
) -> None:
    if power:
        POWER.setdefault(name, []).append(promote_rates(candidate, active, unseen, seed))
    result = compare_models(candidate, active, evaluation, seed=seed)
    unseen_candidate, unseen_active = evaluate(candidate, unseen).f1, evaluate(active, unseen).f1
    print(
        f"| {name} | {seed} | {result.n} | {result.active.f1:.3f} | {result.candidate.f1:.3f} "
        f"| {result.delta_f1:+.3f} [{result.delta_f1_low:+.3f}, {result.delta_f1_high:+.3f}] "
        f"| {result.brier_gain:+.4f} [{result.brier_gain_low:+.4f}, {result.brier_gain_high:+.4f}] "
        f"| {result.active_only_correct}/{result.candidate_only_correct}/{result.mcnemar_p:.3g} "
        f"| {result.verdict} | {unseen_active:.3f} | {unseen_candidate:.3f} "
        f"| {unseen_candidate - unseen_active:+.3f} |",
        flush=True,
    )
    print(f"|  |  | {result.reason} |", file=sys.stderr, flush=True)


def run_seed(data: Dataset, seed: int, n_jobs: int, scenarios: set[str], power: bool) -> None:
    rng = np.random.default_rng(1000 + seed)
    split = split_by_groups(data, seed)
    unseen = subset(data, split.unseen)

    if scenarios & {"poisoned", "poisoned-mild", "seed-large"}:
        base = subset(data, split.base)
        fit_rows, eval_rows = evaluation_split(base, seed=seed)
        active_data, evaluation = subset(base, fit_rows), subset(base, eval_rows)
        active = train(active_data, seed=seed, n_jobs=n_jobs)
        if "poisoned" in scenarios:
            reviews, audit = audit_split(split.stream, rng)
            candidate = train(
                concat(active_data, subset(data, reviews, flip=True)), seed=seed, n_jobs=n_jobs
            )
            poisoned_evaluation = concat(evaluation, subset(data, audit, flip=True))
            report("poisoned", seed, candidate, active, poisoned_evaluation, unseen, power=power)
            report("poisoned, base slice only", seed, candidate, active, evaluation, unseen)
        if "poisoned-mild" in scenarios:
            reviews, audit = audit_split(rng.permutation(split.stream)[:MILD_POISON_REVIEWS], rng)
            candidate = train(
                concat(active_data, subset(data, reviews, flip=True)), seed=seed, n_jobs=n_jobs
            )
            mild_evaluation = concat(evaluation, subset(data, audit, flip=True))
            report("poisoned-mild", seed, candidate, active, mild_evaluation, unseen, power=power)
        if "seed-large" in scenarios:
            candidate = train(active_data, seed=seed + 100, n_jobs=n_jobs)
            report("seed-large", seed, candidate, active, evaluation, unseen, power=power)

    if scenarios & {"helpful", "seed", "few-reviews"}:
        small = take_groups(split.base, group_ids(data.text), SMALL_BASE_ROWS, rng)
        base = subset(data, small)
        fit_rows, eval_rows = evaluation_split(base, seed=seed)
        active_data, evaluation = subset(base, fit_rows), subset(base, eval_rows)
        active = train(active_data, seed=seed, n_jobs=n_jobs)
        queue = uncertain_first(active, data, split.stream)
        if "helpful" in scenarios:
            reviews, audit = audit_split(queue[:HELPFUL_REVIEWS], rng)
            candidate = train(concat(active_data, subset(data, reviews)), seed=seed, n_jobs=n_jobs)
            helpful_evaluation = concat(evaluation, subset(data, audit))
            report("helpful", seed, candidate, active, helpful_evaluation, unseen, power=power)
        if "seed" in scenarios:
            candidate = train(active_data, seed=seed + 100, n_jobs=n_jobs)
            report("seed", seed, candidate, active, evaluation, unseen, power=power)
        if "few-reviews" in scenarios:
            reviews, audit = audit_split(queue[:FEW_REVIEWS], rng)
            candidate = train(concat(active_data, subset(data, reviews)), seed=seed, n_jobs=n_jobs)
            few_evaluation = concat(evaluation, subset(data, audit))
            report("few-reviews", seed, candidate, active, few_evaluation, unseen, power=power)


SCENARIOS = ("poisoned", "poisoned-mild", "helpful", "seed", "few-reviews", "seed-large")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.gate_simulation", description=__doc__)
    parser.add_argument("--data", required=True, help="the shared train.csv")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--power", action="store_true", help="also promotion rates by size")
    parser.add_argument("--scenarios", nargs="+", choices=SCENARIOS, default=list(SCENARIOS))
    args = parser.parse_args(argv)
    data = read_csv(args.data)
    started = time.perf_counter()
    print(
        "| scenario | seed | eval n | active F1 | candidate F1 | dF1 [95% interval] "
        "| Brier gain [95% interval] | McNemar b/c/p | verdict | unseen active F1 "
        "| unseen candidate F1 | unseen dF1 |"
    )
    print("|" + " --- |" * 12)
    for seed in args.seeds:
        run_seed(data, seed, args.n_jobs, set(args.scenarios), args.power)
    if POWER:
        sizes = " | ".join(f"n={size}" for size in POWER_SIZES)
        print("\nShare of random unseen subsets on which the rule promotes (mean of seeds)\n")
        print(f"| scenario | {sizes} |")
        print("| --- |" + " --- |" * len(POWER_SIZES))
        for name, rates in POWER.items():
            means = " | ".join(f"{rate:.2f}" for rate in np.mean(rates, axis=0))
            print(f"| {name} | {means} |")
    print(f"\n{time.perf_counter() - started:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
