"""The promotion gate: McNemar, the paired bootstrap, and the rule's verdicts."""

import json
from dataclasses import dataclass

import numpy as np
import pytest

from ml.data import Dataset, DatasetError
from ml.gate import (
    BRIER_MARGIN,
    MIN_EVALUATION_ROWS,
    bootstrap_delta_f1,
    compare,
    compare_models,
    mcnemar_p,
)


@pytest.mark.parametrize(
    ("b", "c", "expected"),
    [
        (1, 9, 0.021484375),  # 2 * P(X <= 1), X ~ Binomial(10, 1/2) = 2 * 11 / 1024
        (9, 1, 0.021484375),
        (0, 5, 0.0625),  # 2 * (1/2)^5
        (3, 3, 1.0),
        (0, 0, 1.0),  # no discordant pairs: no evidence either way
        (2, 8, 0.109375),  # 2 * (1 + 10 + 45) / 1024
    ],
)
def test_mcnemar_exact_p_values(b, c, expected):
    assert mcnemar_p(b, c) == pytest.approx(expected, rel=1e-12)


def _labels_and_probabilities(n: int, candidate_error: float, active_error: float, seed: int = 0):
    """Labels, and probabilities whose 0.5-cut is wrong on about the given share of rows."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)

    def proba(error: float) -> np.ndarray:
        wrong = rng.random(n) < error
        right_side = np.where(y == 1, 0.8, 0.2)
        return np.where(wrong, 1 - right_side, right_side)

    return y, proba(candidate_error), proba(active_error)


def test_bootstrap_interval_holds_the_estimate_and_is_fixed_by_the_seed():
    y, candidate, active = _labels_and_probabilities(800, 0.15, 0.2)
    predicted = (candidate >= 0.5, active >= 0.5)

    low, high = bootstrap_delta_f1(y, *predicted, seed=4)
    again = bootstrap_delta_f1(y, *predicted, seed=4)
    other = bootstrap_delta_f1(y, *predicted, seed=5)
    result = compare(y, candidate, active, candidate_threshold=0.5, active_threshold=0.5)

    assert low < result.delta_f1 < high
    assert (low, high) == again
    assert (low, high) != other
    assert 0 < high - low < 0.2


def test_bootstrap_interval_narrows_with_more_rows():
    widths = []
    for n in (400, 3200):
        y, candidate, active = _labels_and_probabilities(n, 0.15, 0.2)
        low, high = bootstrap_delta_f1(y, candidate >= 0.5, active >= 0.5)
        widths.append(high - low)

    # The width shrinks like 1/sqrt(n): eight times the rows, about a third of the width.
    assert widths[1] < 0.5 * widths[0]


def test_bootstrap_resamples_rows_in_pairs():
    # Both models make the same predictions: every resample gives them the same F1.
    y, candidate, _ = _labels_and_probabilities(500, 0.2, 0.2)

    assert bootstrap_delta_f1(y, candidate >= 0.5, candidate >= 0.5) == (0.0, 0.0)


def test_identical_models_have_no_difference_and_are_refused():
    y, candidate, _ = _labels_and_probabilities(1000, 0.2, 0.2)

    result = compare(y, candidate, candidate, candidate_threshold=0.5, active_threshold=0.5)

    assert result.delta_f1 == 0
    assert (result.delta_f1_low, result.delta_f1_high) == (0.0, 0.0)
    assert (result.active_only_correct, result.candidate_only_correct) == (0, 0)
    assert result.mcnemar_p == 1.0
    assert not result.promote
    assert result.reason.startswith("refuse:")


def test_a_clearly_better_model_is_promoted():
    y, candidate, active = _labels_and_probabilities(1000, 0.1, 0.25)

    result = compare(y, candidate, active, candidate_threshold=0.5, active_threshold=0.5)

    assert result.delta_f1 > 0.1
    assert result.delta_f1_low > 0
    assert result.candidate_only_correct > result.active_only_correct
    assert result.promote
    assert result.verdict == "promote"
    assert result.reason.startswith("promote:")


def test_a_clearly_worse_model_is_refused_as_significantly_worse():
    y, candidate, active = _labels_and_probabilities(1000, 0.25, 0.1)

    result = compare(y, candidate, active, candidate_threshold=0.5, active_threshold=0.5)

    assert result.mcnemar_p < 0.001
    assert not result.promote
    assert "significantly worse" in result.reason


def test_a_gain_the_interval_does_not_confirm_is_refused():
    y, active, _ = _labels_and_probabilities(1000, 0.2, 0.2)
    # The candidate fixes 30 of the active model's mistakes and makes 20 new ones.
    candidate = active.copy()
    wrong = np.flatnonzero((active >= 0.5) != (y == 1))[:30]
    right = np.flatnonzero((active >= 0.5) == (y == 1))[:20]
    candidate[wrong] = 1 - candidate[wrong]
    candidate[right] = 1 - candidate[right]

    result = compare(y, candidate, active, candidate_threshold=0.5, active_threshold=0.5)

    assert (result.active_only_correct, result.candidate_only_correct) == (20, 30)
    assert result.delta_f1 > 0
    assert result.delta_f1_low < 0
    assert not result.promote
    assert result.brier_gain_low < 0 < result.brier_gain_high
    assert "not surely better" in result.reason


def test_a_higher_f1_with_significantly_more_mistakes_is_refused():
    y = np.array([1] * 500 + [0] * 500)
    # The active model finds 200 of the 500 disasters and no false ones (F1 0.571, accuracy
    # 0.7); the candidate calls everything a disaster (F1 0.667, accuracy 0.5).
    active = np.where(np.arange(1000) < 200, 0.9, 0.1)
    candidate = np.full(1000, 0.9)

    result = compare(y, candidate, active, candidate_threshold=0.5, active_threshold=0.5)

    assert result.delta_f1_low > 0
    assert (result.active_only_correct, result.candidate_only_correct) == (500, 300)
    assert not result.promote
    assert "significantly worse" in result.reason


def test_below_the_minimum_rows_the_gate_refuses_whatever_the_models():
    n = MIN_EVALUATION_ROWS - 1
    y, candidate, active = _labels_and_probabilities(n, 0.0, 0.5)

    result = compare(y, candidate, active, candidate_threshold=0.5, active_threshold=0.5)

    assert result.delta_f1 > 0.3
    assert not result.promote
    assert result.reason == (
        f"refuse: too few evaluation rows (n={n} < {MIN_EVALUATION_ROWS}) to tell a gain "
        "from noise; promote it anyway only with a stated reason (forced)"
    )


def test_each_model_is_cut_at_its_own_threshold():
    y = np.array([1, 1, 0, 0] * 100)
    proba = np.array([0.7, 0.4, 0.3, 0.1] * 100)

    result = compare(y, proba, proba, candidate_threshold=0.25, active_threshold=0.5)

    assert result.candidate.f1 == pytest.approx(0.8)  # 0.7, 0.4 and the negative 0.3 positive
    assert result.active.f1 == pytest.approx(2 / 3)  # only 0.7 positive
    assert (result.active_only_correct, result.candidate_only_correct) == (100, 100)


def test_the_report_is_json_ready():
    y, candidate, active = _labels_and_probabilities(500, 0.1, 0.2)

    report = compare(y, candidate, active, candidate_threshold=0.5, active_threshold=0.5)
    loaded = json.loads(json.dumps(report.as_dict()))

    assert loaded["verdict"] == report.verdict
    assert loaded["candidate"]["f1"] == report.candidate.f1
    assert loaded["rule"]["min_evaluation_rows"] == MIN_EVALUATION_ROWS
    assert loaded["delta_f1_low"] == report.delta_f1_low
    assert loaded["active_only_correct"] == report.active_only_correct


def test_inputs_of_different_lengths_are_an_error():
    with pytest.raises(ValueError, match="equally long"):
        compare([0, 1], [0.2, 0.8], [0.5], candidate_threshold=0.5, active_threshold=0.5)


@dataclass
class _FixedModel:
    """A ProbabilityModel that answers from a table of texts."""

    proba: dict[str, float]
    threshold: float

    def predict_proba(self, text, keyword, location) -> np.ndarray:
        return np.array([self.proba[t] for t in text])


def test_compare_models_scores_both_on_the_data_at_their_thresholds():
    rows = [(f"tweet {i}", "", "", i % 2) for i in range(400)]
    data = Dataset.from_rows(rows)
    right = _FixedModel({t: 0.9 if y else 0.1 for t, _, _, y in rows}, threshold=0.5)
    # The same probabilities, cut where every row becomes positive.
    careless = _FixedModel(right.proba, threshold=0.05)

    result = compare_models(right, careless, data)

    assert result.candidate.f1 == 1.0
    assert result.active.f1 == pytest.approx(2 / 3)
    assert result.promote


def test_compare_models_needs_rows():
    model = _FixedModel({}, threshold=0.5)

    with pytest.raises(DatasetError, match="empty"):
        compare_models(model, model, Dataset.from_rows([]))


def test_surer_probabilities_with_the_same_labels_are_promoted_on_the_brier_score():
    y = np.array([1, 0] * 250)
    # Both models label the same rows the same way (one mistake in ten); the candidate's
    # probabilities are closer to the truth where it is right, so its Brier score is lower.
    wrong = np.arange(500) % 10 == 0
    label = np.where(wrong, 1 - y, y)
    active = np.where(label == 1, 0.55, 0.45)
    candidate = np.where(label == 1, np.where(wrong, 0.55, 0.9), np.where(wrong, 0.45, 0.1))

    result = compare(y, candidate, active, candidate_threshold=0.5, active_threshold=0.5)

    assert result.delta_f1 == 0 and (result.active_only_correct, result.candidate_only_correct) == (
        0,
        0,
    )
    assert result.brier_gain == pytest.approx(0.9 * (0.45**2 - 0.1**2))
    assert 0 < result.brier_gain_low <= result.brier_gain <= result.brier_gain_high
    assert result.promote and "Brier score better by +0.173" in result.reason


@pytest.mark.parametrize(("sharper_by", "promote"), [(0.0006, False), (0.005, True)])
def test_a_brier_gain_must_clear_the_margin(sharper_by, promote):
    y = np.array([1, 0] * 500)
    active = np.where(y == 1, 0.6, 0.4)
    candidate = np.where(y == 1, 0.6 + sharper_by, 0.4 - sharper_by)

    result = compare(y, candidate, active, candidate_threshold=0.5, active_threshold=0.5)

    # Every row gains the same: (0.4)² - (0.4 - d)², so the interval is the gain itself.
    gain = 0.4**2 - (0.4 - sharper_by) ** 2
    assert result.brier_gain_low == pytest.approx(gain) == pytest.approx(result.brier_gain)
    assert (gain > BRIER_MARGIN) is promote
    assert result.promote is promote
