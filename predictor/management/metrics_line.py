"""One-line, human-readable rendering of model metrics for the commands."""

from collections.abc import Mapping


def metrics_line(metrics: Mapping[str, float | int | None]) -> str:
    """`f1=0.771 accuracy=0.812 ...` for the figures present in `metrics`."""
    parts = []
    for name in ("f1", "accuracy", "precision", "recall", "roc_auc", "threshold"):
        if name in metrics:
            value = metrics[name]
            parts.append(f"{name}=" + ("n/a" if value is None else f"{value:.3f}"))
    return " ".join(parts)
