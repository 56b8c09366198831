"""Cohen's kappa of two raters: scikit-learn's figure, and None where it is undefined."""

import pytest

from ml.agreement import cohen_kappa

LABELS = ("disaster", "not_disaster")
D, N = LABELS


def test_kappa_of_a_hand_computed_table():
    # Both say D on 2 items, both N on 1, they differ on 1: p_o = 3/4. First rater D 2/4, N 2/4;
    # second D 3/4, N 1/4: p_e = 1/2 * 3/4 + 1/2 * 1/4 = 1/2. kappa = (3/4 - 1/2) / (1/2) = 1/2.
    assert cohen_kappa([D, D, N, N], [D, D, N, D], LABELS) == pytest.approx(0.5)


def test_perfect_agreement_is_one_and_perfect_disagreement_below_zero():
    assert cohen_kappa([D, N, D], [D, N, D], LABELS) == pytest.approx(1.0)
    assert cohen_kappa([D, N], [N, D], LABELS) == pytest.approx(-1.0)


def test_undefined_kappa_is_none_not_nan():
    assert cohen_kappa([], [], LABELS) is None
    # Both raters always said D: chance agreement is certain, kappa is 0/0.
    assert cohen_kappa([D, D, D], [D, D, D], LABELS) is None
    # Constant but different raters: p_o = 0 = p_e, kappa is 0 (defined).
    assert cohen_kappa([D, D], [N, N], LABELS) == pytest.approx(0.0)


def test_the_two_raters_must_rate_the_same_items():
    with pytest.raises(ValueError, match="one pair per item"):
        cohen_kappa([D], [D, N], LABELS)
