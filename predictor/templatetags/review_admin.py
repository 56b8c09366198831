"""Template helpers of the review pages: the admin index's review summary and share formatting."""

from __future__ import annotations

from typing import Any

from django import template

from predictor import selectors

register = template.Library()


@register.simple_tag(takes_context=True)
def review_summary(context: template.Context) -> dict[str, Any] | None:
    """What the admin index shows a reviewer: unreviewed count, labels newer than the model."""
    user = context["request"].user
    if not user.has_perm("predictor.view_prediction"):
        return None
    active, newer_labels = selectors.prediction_reviewed_since_active_count()
    return {
        "can_review": user.has_perm("predictor.change_prediction"),
        "unreviewed": selectors.prediction_unreviewed_count(),
        "active": active,
        "newer_labels": newer_labels,
    }


@register.filter
def share(value: float | None) -> str:
    """0.8342 -> "83.4%"; None (nothing to divide by) -> "-"."""
    return "-" if value is None else f"{value:.1%}"


@register.filter
def thousands(value: int) -> str:
    """1204 -> "1,204"."""
    return f"{value:,}"
