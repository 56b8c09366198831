"""Agreement between two raters of the same items: observed agreement and Cohen's kappa."""

from collections.abc import Sequence

from sklearn.metrics import cohen_kappa_score


def cohen_kappa(first: Sequence[str], second: Sequence[str], labels: Sequence[str]) -> float | None:
    """Cohen's kappa of two raters' labels of the same items (`first[i]` and `second[i]` rate
    item i), over the categories `labels`; None when it is undefined: no items, or chance
    agreement is certain (both raters gave one and the same label throughout: 0/0)."""
    if len(first) != len(second):
        raise ValueError(f"{len(first)} labels against {len(second)}: one pair per item")
    n = len(first)
    if not n:
        return None
    expected = sum((first.count(label) / n) * (second.count(label) / n) for label in labels)
    if expected >= 1:
        return None
    return float(cohen_kappa_score(first, second, labels=list(labels)))
