"""The promotion gate: compare a retrained candidate with the active model on the same rows.

Both models predict the same evaluation rows, so the comparison is paired: a bootstrap that
resamples rows for both at once, and McNemar's exact test on the rows where exactly one is right.
"""

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy.stats import binomtest

from ml.data import Dataset, DatasetError
from ml.evaluate import Metrics, ProbabilityModel, score

# The rule, calibrated on simulated retrains with the shared data (bench/gate_simulation.py;
# figures in bench/gate_results.md). Promote only when all three hold:
#  - at least MIN_EVALUATION_ROWS rows. Below that the 95% interval of dF1 spans about
#    +-0.05 or more, wider than any gain a retrain produced in the simulations, and rests on a
#    few dozen discordant rows; the gate refuses and says so (a person may force it);
#  - the lower end of the 95% interval of dF1 is above 0. A looser bar (dF1 > 0 with a
#    tolerated loss of a point) promoted retrains that differed only in their seed or in 50
#    extra reviews; this one never did, and still refused a poisoned candidate even when the
#    flipped audit labels in the evaluation set favoured it;
#  - McNemar's test does not find the candidate significantly worse (more rows where only
#    the active model is right, p < MCNEMAR_ALPHA): F1 can rise while accuracy falls, for
#    instance when a candidate calls more tweets disasters.
MIN_EVALUATION_ROWS = 300
MCNEMAR_ALPHA = 0.05

CONFIDENCE = 0.95
BOOTSTRAP_RESAMPLES = 2000
# Rows x resamples gathered at once by the bootstrap; bounds its memory to a few MB per array.
_BOOTSTRAP_CHUNK_CELLS = 4_000_000


@dataclass(frozen=True)
class Comparison:
    """Candidate against active model on ``n`` evaluation rows, and whether to promote.

    ``active_only_correct`` and ``candidate_only_correct`` are McNemar's discordant pairs
    (b and c): rows that one model classifies right and the other wrong.
    """

    n: int
    candidate: Metrics
    active: Metrics
    delta_f1: float
    delta_f1_low: float
    delta_f1_high: float
    active_only_correct: int
    candidate_only_correct: int
    mcnemar_p: float
    promote: bool
    reason: str

    @property
    def verdict(self) -> str:
        """``"promote"`` or ``"refuse"``."""
        return "promote" if self.promote else "refuse"

    def as_dict(self) -> dict:
        """The comparison as a plain, JSON-ready dict (with the verdict and the rule's settings)."""
        return {
            **asdict(self),
            "verdict": self.verdict,
            "confidence": CONFIDENCE,
            "rule": {
                "min_evaluation_rows": MIN_EVALUATION_ROWS,
                "delta_f1_low_above": 0.0,
                "mcnemar_alpha": MCNEMAR_ALPHA,
            },
        }


def mcnemar_p(active_only_correct: int, candidate_only_correct: int) -> float:
    """Exact two-sided McNemar p-value: a binomial test of b against b + c at one half."""
    discordant = active_only_correct + candidate_only_correct
    if discordant == 0:
        return 1.0
    return float(binomtest(active_only_correct, discordant, 0.5).pvalue)


def bootstrap_delta_f1(
    y_true: np.ndarray,
    candidate_predicted: np.ndarray,
    active_predicted: np.ndarray,
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile interval of F1(candidate) - F1(active) over rows resampled with replacement.

    Each resample draws the same rows for both models (a paired bootstrap). The inputs are
    0/1 arrays of one length; the same seed gives the same interval.
    """
    y = np.asarray(y_true, dtype=bool)
    models = (np.asarray(candidate_predicted, dtype=bool), np.asarray(active_predicted, dtype=bool))
    n = len(y)
    if not n:
        raise ValueError("cannot bootstrap zero rows")
    rng = np.random.default_rng(seed)
    deltas = np.empty(resamples, dtype=np.float64)
    chunk = max(1, _BOOTSTRAP_CHUNK_CELLS // n)
    for start in range(0, resamples, chunk):
        rows = rng.integers(0, n, size=(min(chunk, resamples - start), n))
        actual = y[rows].sum(axis=1)
        f1 = []
        for predicted in models:
            true_positive = (predicted & y)[rows].sum(axis=1)
            denominator = predicted[rows].sum(axis=1) + actual
            f1.append(
                np.divide(
                    2.0 * true_positive, denominator, out=np.zeros(len(rows)), where=denominator > 0
                )
            )
        deltas[start : start + len(rows)] = f1[0] - f1[1]
    tail = (1 - confidence) / 2
    low, high = np.quantile(deltas, [tail, 1 - tail])
    return float(low), float(high)


def compare(
    y_true: Sequence[int],
    candidate_proba: Sequence[float],
    active_proba: Sequence[float],
    *,
    candidate_threshold: float,
    active_threshold: float,
    seed: int = 0,
    min_rows: int = MIN_EVALUATION_ROWS,
) -> Comparison:
    """Compare two models' probabilities for the same rows, each cut at its own threshold.

    ``y_true`` holds the 0/1 labels; ``seed`` fixes the bootstrap; ``min_rows`` is the
    smallest number of rows the rule decides on (lower it only to study the rule).
    """
    y = np.asarray(y_true, dtype=np.int64)
    candidate_p = np.asarray(candidate_proba, dtype=np.float64)
    active_p = np.asarray(active_proba, dtype=np.float64)
    if not (y.ndim == 1 and y.shape == candidate_p.shape == active_p.shape):
        raise ValueError(
            f"labels and probabilities must be 1-D and equally long: "
            f"{y.shape}, {candidate_p.shape}, {active_p.shape}"
        )
    candidate = score(y, candidate_p, candidate_threshold)
    active = score(y, active_p, active_threshold)
    candidate_correct = (candidate_p >= candidate_threshold) == (y == 1)
    active_correct = (active_p >= active_threshold) == (y == 1)
    b = int((active_correct & ~candidate_correct).sum())
    c = int((candidate_correct & ~active_correct).sum())
    low, high = bootstrap_delta_f1(
        y, candidate_p >= candidate_threshold, active_p >= active_threshold, seed=seed
    )
    delta = candidate.f1 - active.f1
    p = mcnemar_p(b, c)
    promote, reason = _verdict(
        n=len(y), min_rows=min_rows, delta=delta, low=low, high=high, b=b, c=c, p=p
    )
    return Comparison(
        n=len(y),
        candidate=candidate,
        active=active,
        delta_f1=delta,
        delta_f1_low=low,
        delta_f1_high=high,
        active_only_correct=b,
        candidate_only_correct=c,
        mcnemar_p=p,
        promote=promote,
        reason=reason,
    )


def compare_models(
    candidate: ProbabilityModel, active: ProbabilityModel, data: Dataset, *, seed: int = 0
) -> Comparison:
    """`compare` the two models on the labelled rows of ``data``, each at its own threshold."""
    if not len(data):
        raise DatasetError("cannot compare models on an empty data set")
    columns = (data.text, data.keyword, data.location)
    return compare(
        data.target,
        candidate.predict_proba(*columns),
        active.predict_proba(*columns),
        candidate_threshold=candidate.threshold,
        active_threshold=active.threshold,
        seed=seed,
    )


def _verdict(
    *, n: int, min_rows: int, delta: float, low: float, high: float, b: int, c: int, p: float
) -> tuple[bool, str]:
    """The promotion rule (see the constants above) and its one-line reason."""
    if n < min_rows:
        return False, (
            f"refuse: too few evaluation rows (n={n} < {min_rows}) to tell a gain "
            f"from noise; use --force to promote anyway"
        )
    if b > c and p < MCNEMAR_ALPHA:
        return False, (
            f"refuse: the candidate is significantly worse (wrong on {b} rows the active model "
            f"gets right, right on {c} it gets wrong; McNemar p={p:.3g})"
        )
    interval = f"95% interval {low:+.3f} to {high:+.3f}"
    if low <= 0:
        return False, f"refuse: F1 changes by {delta:+.3f}, not surely a gain ({interval})"
    return True, (
        f"promote: F1 gains {delta:+.3f} ({interval}); right on {c} rows the active model "
        f"gets wrong, wrong on {b}"
    )
