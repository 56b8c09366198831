"""Template helpers of the review and model pages: the admin index's review summary, and the
formatting of shares, metrics and p-values."""

from __future__ import annotations

from typing import Any

from django import template

from predictor import selectors
from predictor.models import Label

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


@register.filter
def metric(value: float | None) -> str:
    """0.81234 -> "0.812"; None (not measured) -> "-"."""
    return "-" if value is None else f"{value:.3f}"


@register.filter
def signed(value: float | None) -> str:
    """A change: 0.0123 -> "+0.012", -0.004 -> "-0.004"; None -> "-"."""
    return "-" if value is None else f"{value:+.3f}"


@register.filter
def pvalue(value: float | None) -> str:
    """A p-value to three significant digits: 0.000123 -> "0.000123", 0.51234 -> "0.512"."""
    return "-" if value is None else f"{value:.3g}"


@register.filter
def short_id(value: str | None) -> str:
    """An evaluation set's identifier (a hash) as its first 12 characters."""
    return value[:12] if value else "-"


@register.filter
def label_name(value: str | None) -> str:
    """A stored label as reviewers read it: "not_disaster" -> "Not a disaster"; None -> ""."""
    return Label(value).label if value else ""


@register.filter
def points(value: float | None) -> str:
    """A difference of two shares in percentage points: 0.076 -> "+7.6 pts"; None -> "-"."""
    return "-" if value is None else f"{value * 100:+.1f} pts"
