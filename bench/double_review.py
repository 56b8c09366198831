"""Simulate double review with the real services and print the dashboard's review figures.

    python -m bench.double_review [--data ../shared/data/train.csv] [--predictions 1200]
                                  [--share 0.1] [--seed 7]

A throwaway SQLite database in a temporary DATA_DIR (production settings otherwise): the
evaluation set cut from the data as a training would cut it (services.evaluation_set_for), and
`--predictions` tweets of the data stored through the prediction store, half of them texts of
the evaluation set's base rows. No model is trained: each tweet's probability is simulated (right
side of 0.5 for about 80% of tweets), since the reviewers' figures do not depend on it.

Four reviewers with their own error rates work the real review queue in turn
(services.prediction_review_next, then services.prediction_review as the queue calls it, with
DOUBLE_REVIEW_SHARE=`--share`), each with the model's explanation shown on half of their reviews
and "blind first" on the other half. When the explanation is shown a reviewer sometimes takes
the model's label instead of their own judgement (`anchoring`), which is what the comparison of
the two settings is meant to reveal. Then a staff member resolves every conflict.

Prints what the dashboard shows: pending and conflicts, agreement and Cohen's kappa per pair
(selectors.review_pair_agreement), each reviewer's agreement with the evaluation set under both
settings (selectors.reviewer_evaluation_agreement), and the simulated error rates beside them.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from bench.django_env import default_data, django_start

MODEL_ACCURACY = 0.8


@dataclass(frozen=True)
class SimulatedReviewer:
    name: str
    error: float  # the share of their own judgements that are wrong
    anchoring: float  # with the explanation shown: how often they take the model's label


REVIEWERS = (
    SimulatedReviewer("careful", error=0.05, anchoring=0.1),
    SimulatedReviewer("steady", error=0.1, anchoring=0.2),
    SimulatedReviewer("hasty", error=0.2, anchoring=0.5),
    SimulatedReviewer("newcomer", error=0.3, anchoring=0.6),
)


def share(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.double_review", description=__doc__)
    parser.add_argument("--data", type=Path, default=default_data())
    parser.add_argument("--predictions", type=int, default=1200)
    parser.add_argument("--share", type=float, default=0.1, help="DOUBLE_REVIEW_SHARE")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    if not 0 <= args.share <= 1 or args.predictions < 2:
        parser.error("--share must be between 0 and 1, --predictions at least 2")

    with tempfile.TemporaryDirectory(prefix="bench-double-review-") as data_dir:
        django_start(Path(data_dir), DOUBLE_REVIEW_SHARE=str(args.share))
        return simulate(args)


def simulate(args: argparse.Namespace) -> int:
    from django.contrib.auth.models import User
    from django.db.models import Q
    from django.utils import timezone

    from ml.data import read_csv
    from predictor import selectors, services
    from predictor.models import Label, ModelVersion, Prediction, SecondReview, Source
    from predictor.prediction_store import predictions_insert
    from predictor.tweets import tweet_clean

    rng = random.Random(args.seed)
    started = time.perf_counter()
    base = read_csv(args.data)
    evaluation, train_rows = services.evaluation_set_for(base)
    services.evaluation_set_store(evaluation=evaluation, training_data=args.data.name)
    half = args.predictions // 2
    evaluation_rows = rng.sample(evaluation.data.rows(), min(half, len(evaluation.data)))
    other_rows = rng.sample(train_rows.rows(), min(args.predictions - half, len(train_rows)))
    rows = evaluation_rows + other_rows
    rng.shuffle(rows)

    version = ModelVersion.objects.create(
        name="simulated", artifact_path="none.joblib", sha256="0" * 64, threshold=0.5
    )
    tweets = [tweet_clean(text=t, keyword=k, location=loc) for t, k, loc, _ in rows]
    probabilities = []
    for *_, target in rows:
        right = rng.random() < MODEL_ACCURACY
        said_disaster = bool(target) == right
        probabilities.append(rng.uniform(0.5, 1.0) if said_disaster else rng.uniform(0.0, 0.5))
    stored = predictions_insert(tweets, probabilities, version=version, source=Source.BATCH)
    truth = {p.pk: target for p, (*_, target) in zip(stored, rows, strict=True)}

    services.database_statistics_refresh()  # as after every migrate: the queue's index is used
    users = {r.name: User.objects.create_user(r.name, is_staff=True) for r in REVIEWERS}
    lead = User.objects.create_superuser("lead")

    def answer(reviewer: SimulatedReviewer, prediction: Prediction, shown: bool) -> str:
        if shown and rng.random() < reviewer.anchoring:
            return prediction.predicted_label
        target = truth[prediction.pk]
        if rng.random() < reviewer.error:
            target = 1 - target
        return Label.DISASTER if target else Label.NOT_DISASTER

    reviews = 0
    idle = 0
    while idle < len(REVIEWERS):  # until the queue is empty for every reviewer
        idle = 0
        # A new order each round, so that every pair of reviewers meets over a second review.
        for reviewer in rng.sample(REVIEWERS, len(REVIEWERS)):
            user = users[reviewer.name]
            prediction = services.prediction_review_next(reviewer=user, rng=rng)
            if prediction is None:
                idle += 1
                continue
            shown = rng.random() < 0.5
            services.prediction_review(
                predictions=Prediction.objects.filter(pk=prediction.pk).filter(
                    Q(true_label__isnull=True)
                    | Q(second_review=SecondReview.PENDING) & ~Q(reviewed_by=user)
                ),
                true_label=answer(reviewer, prediction, shown),
                reviewer=user,
                via="review queue",
                explanation_shown=shown,
                double_review=True,
                rng=rng,
            )
            reviews += 1

    since = timezone.now() - timedelta(days=1)
    counts = selectors.prediction_double_review_counts()
    doubled = Prediction.objects.exclude(second_review=SecondReview.NONE).count()
    print(
        f"{len(stored):,} predictions ({len(evaluation_rows):,} evaluation-set texts), "
        f"{reviews:,} reviews by {len(REVIEWERS)} reviewers, DOUBLE_REVIEW_SHARE={args.share}, "
        f"seed {args.seed}; evaluation set {evaluation.base_rows:,} base rows"
    )
    print(
        f"double-reviewed: {doubled:,}; pending: {counts['pending']:,}; "
        f"conflicts: {counts['conflicts']:,}"
    )
    print("\nAgreement per pair of reviewers (selectors.review_pair_agreement)")
    print(f"  {'pair':<22}{'n':>5}{'observed':>10}{'kappa':>8}")
    for pair in selectors.review_pair_agreement(since=since):
        kappa = "-" if pair.kappa is None else f"{pair.kappa:.3f}"
        names = " and ".join(pair.reviewers)
        print(f"  {names:<22}{pair.agreement.n:>5}{share(pair.agreement.share):>10}{kappa:>8}")

    for prediction in Prediction.objects.filter(second_review=SecondReview.CONFLICT):
        final = Label.DISASTER if truth[prediction.pk] else Label.NOT_DISASTER
        services.prediction_conflict_resolve(prediction=prediction, true_label=final, resolver=lead)
    resolved = Prediction.objects.filter(second_review=SecondReview.RESOLVED).count()
    print(f"\n{resolved:,} conflicts resolved by staff (with the data's label)")

    print("\nReviewers against the evaluation set (selectors.reviewer_evaluation_agreement)")
    print(f"  {'reviewer':<10}{'error':>7}{'anchor':>8}{'shown':>16}{'blind first':>16}{'all':>16}")
    simulated = {r.name: r for r in REVIEWERS}
    evaluation_set = selectors.evaluation_set_current()
    for row in selectors.reviewer_evaluation_agreement(since=since, evaluation_set=evaluation_set):
        who = simulated.get(row.reviewer)
        error = f"{who.error:.0%}" if who else ""
        anchor = f"{who.anchoring:.0%}" if who else ""
        cells = [f"{share(a.share)} of {a.n}" for a in (row.shown, row.blind, row.total)]
        name = row.reviewer or "all"
        print(f"  {name:<10}{error:>7}{anchor:>8}" + "".join(f"{c:>16}" for c in cells))
    print(f"\n{time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
