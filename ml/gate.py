"""The promotion gate: compare a retrained candidate with the active model on the same rows.

Both models predict the same evaluation rows, so the comparison is paired: bootstraps that
resample rows for both at once (of the F1 difference and of the Brier score's gain), and
McNemar's exact test on the rows where exactly one is right.
"""

from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy.stats import binomtest

from ml.data import Dataset, DatasetError
from ml.evaluate import Metrics, ProbabilityModel, score

# The rule, calibrated on simulated retrains with the shared data (bench/gate_simulation.py,
# tests/predictor/test_gate_scenarios.py; figures in bench/gate_results.md). Promote only when
# all of these hold:
#  - at least MIN_EVALUATION_ROWS rows. Below that the 95% intervals are wider than any gain a
#    retrain produced in the simulations; the gate refuses and says so (a person may force it);
#  - McNemar's test does not find the candidate significantly worse (more rows where only the
#    active model is right, p < MCNEMAR_ALPHA);
#  - F1 does not fall (dF1 >= 0): F1 is the figure people read;
#  - the candidate is better beyond noise: the lower end of the 95% interval of dF1 is above 0,
#    or that of the Brier score's gain (mean squared error of the probability, active minus
#    candidate) is above BRIER_MARGIN. The F1 difference counts only the rows whose label
#    changes, so on 400-500 rows its interval straddled zero for most helpful retrains (1,000
#    right reviews on a 2,000-row base: promoted in 2 of 5 simulated seeds on F1 alone); the
#    Brier score uses every row's probability and separated them (lower ends +0.002 to +0.011).
#    The margin is the smallest gain worth a switch: retrains that differed only in their seed
#    or in 50 extra reviews reached lower ends of up to +0.0006 (one was promoted with a margin
#    of 0), the helpful ones did not fall below +0.0019 where F1 alone did not already decide.
MIN_EVALUATION_ROWS = 300
MCNEMAR_ALPHA = 0.05
BRIER_MARGIN = 0.001

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
    brier_gain: float
    brier_gain_low: float
    brier_gain_high: float
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
                "mcnemar_alpha": MCNEMAR_ALPHA,
                "delta_f1_at_least": 0.0,
                "delta_f1_low_above": 0.0,
                "or_brier_gain_low_above": BRIER_MARGIN,
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
    deltas = []
    for rows in _resampled_rows(len(y), resamples, seed):
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
        deltas.append(f1[0] - f1[1])
    return _percentile_interval(np.concatenate(deltas), confidence)


def bootstrap_brier_gain(
    y_true: np.ndarray,
    candidate_proba: np.ndarray,
    active_proba: np.ndarray,
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> tuple[float, float, float]:
    """The Brier score's gain, active minus candidate (positive: the candidate's probabilities
    are closer to the labels), and its paired bootstrap percentile interval: (gain, low, high)."""
    y = np.asarray(y_true, dtype=np.float64)
    gains = (np.asarray(active_proba) - y) ** 2 - (np.asarray(candidate_proba) - y) ** 2
    means = [gains[rows].mean(axis=1) for rows in _resampled_rows(len(gains), resamples, seed)]
    return (float(gains.mean()), *_percentile_interval(np.concatenate(means), confidence))


def _resampled_rows(n: int, resamples: int, seed: int) -> Iterator[np.ndarray]:
    """`resamples` draws of `n` row indices with replacement, in chunks that bound memory; the
    same seed gives the same draws, so every statistic of one comparison sees the same rows."""
    if not n:
        raise ValueError("cannot bootstrap zero rows")
    rng = np.random.default_rng(seed)
    chunk = max(1, _BOOTSTRAP_CHUNK_CELLS // n)
    for start in range(0, resamples, chunk):
        yield rng.integers(0, n, size=(min(chunk, resamples - start), n))


def _percentile_interval(values: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = (1 - confidence) / 2
    low, high = np.quantile(values, [tail, 1 - tail])
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
    brier = bootstrap_brier_gain(y, candidate_p, active_p, seed=seed)
    p = mcnemar_p(b, c)
    promote, reason = _verdict(
        n=len(y), min_rows=min_rows, delta=(delta, low, high), brier=brier, b=b, c=c, p=p
    )
    return Comparison(
        n=len(y),
        candidate=candidate,
        active=active,
        delta_f1=delta,
        delta_f1_low=low,
        delta_f1_high=high,
        brier_gain=brier[0],
        brier_gain_low=brier[1],
        brier_gain_high=brier[2],
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
    *,
    n: int,
    min_rows: int,
    delta: tuple[float, float, float],
    brier: tuple[float, float, float],
    b: int,
    c: int,
    p: float,
) -> tuple[bool, str]:
    """The promotion rule (see the constants above) and its one-line reason."""
    if n < min_rows:
        return False, (
            f"refuse: too few evaluation rows (n={n} < {min_rows}) to tell a gain "
            f"from noise; promote it anyway only with a stated reason (forced)"
        )
    if b > c and p < MCNEMAR_ALPHA:
        return False, (
            f"refuse: the candidate is significantly worse (wrong on {b} rows the active model "
            f"gets right, right on {c} it gets wrong; McNemar p={p:.3g})"
        )
    f1, f1_low, f1_high = delta
    if f1 < 0:
        return False, f"refuse: F1 would fall by {-f1:.3f}"
    gain, low, high = brier
    figures = (
        f"F1 {f1:+.3f} (95% interval {f1_low:+.3f} to {f1_high:+.3f}), Brier score better by "
        f"{gain:+.4f} ({low:+.4f} to {high:+.4f})"
    )
    if f1_low <= 0 and low <= BRIER_MARGIN:
        return False, f"refuse: not surely better: {figures}"
    return True, f"promote: {figures}; right on {c} rows the active model gets wrong, wrong on {b}"
