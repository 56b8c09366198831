"""Staff pages inside the admin: the review queue (one unreviewed prediction at a time, most
uncertain first) and the dashboard. Wired in by PredictionAdmin.get_urls."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.views.decorators.http import require_http_methods, require_safe

from predictor import selectors, services
from predictor.models import Label, Prediction

# Skipped ids kept in the session (the most recent ones), so "Skip" never shows a tweet again
# in that session without letting the session grow without bound.
SKIPPED_SESSION_KEY = "review_skipped"
SKIPPED_MAX = 1000

SKIP = "skip"
RESTART = "restart"
DASHBOARD_PERIODS = (7, 30, 90, 365)
DASHBOARD_DEFAULT_DAYS = 30


class ReviewDecisionForm(forms.Form):
    prediction = forms.IntegerField(min_value=1, required=False)
    decision = forms.ChoiceField(choices=[*Label.choices, (SKIP, "Skip"), (RESTART, "Start over")])

    def clean(self) -> dict:
        data = super().clean()
        if data.get("decision") not in (None, RESTART) and not data.get("prediction"):
            raise forms.ValidationError("Which prediction?")
        return data


def _require(request: HttpRequest, model_admin: admin.ModelAdmin, permission: str) -> None:
    opts = model_admin.opts
    if not request.user.has_perm(f"{opts.app_label}.{permission}_{opts.model_name}"):
        raise PermissionDenied


@require_http_methods(["GET", "HEAD", "POST"])
def review_queue(request: HttpRequest, model_admin: admin.ModelAdmin) -> HttpResponse:
    """GET shows the next unreviewed prediction; POST labels or skips it, then redirects back."""
    _require(request, model_admin, "change")
    skipped: list[int] = request.session.get(SKIPPED_SESSION_KEY, [])
    if request.method == "POST":
        form = ReviewDecisionForm(request.POST)
        if not form.is_valid():
            messages.error(request, "That decision was not understood; nothing was changed.")
        else:
            _decide(request, form.cleaned_data["prediction"], form.cleaned_data["decision"])
        return HttpResponseRedirect(request.path)

    prediction = services.prediction_review_next(exclude_ids=skipped)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": "Review queue",
        "prediction": prediction,
        "progress": selectors.prediction_review_progress(reviewer=request.user),
        "skipped": len(skipped),
        "decisions": [
            (Label.DISASTER, "Disaster", "d"),
            (Label.NOT_DISASTER, "Not a disaster", "n"),
            (SKIP, "Skip", "s"),
        ],
    }
    return render(request, "admin/predictor/prediction/review_queue.html", context)


def _decide(request: HttpRequest, prediction_id: int | None, decision: str) -> None:
    skipped: list[int] = request.session.get(SKIPPED_SESSION_KEY, [])
    if decision == RESTART:
        request.session[SKIPPED_SESSION_KEY] = []
        messages.info(request, "Skipped predictions are back in the queue.")
        return
    if decision == SKIP:
        request.session[SKIPPED_SESSION_KEY] = [*skipped, prediction_id][-SKIPPED_MAX:]
        return
    changed = services.prediction_review(
        # Only while unreviewed: a colleague's label given meanwhile is not overwritten.
        predictions=Prediction.objects.filter(pk=prediction_id, true_label__isnull=True),
        true_label=decision,
        reviewer=request.user,
        via="review queue",
    )
    link = reverse("admin:predictor_prediction_change", args=[prediction_id])
    if changed:
        messages.success(
            request,
            format_html(
                '<a href="{}">#{}</a> marked “{}”.', link, prediction_id, Label(decision).label
            ),
        )
    else:
        messages.warning(
            request,
            format_html(
                '<a href="{}">#{}</a> was already reviewed (or is gone); nothing was changed.',
                link,
                prediction_id,
            ),
        )


@require_safe
def dashboard(request: HttpRequest, model_admin: admin.ModelAdmin) -> HttpResponse:
    """Predictions per day, share called disaster, probabilities, reviews and the model's
    agreement with reviewers, overall and per model version, over the last N days."""
    _require(request, model_admin, "view")
    try:
        days = int(request.GET.get("days", DASHBOARD_DEFAULT_DAYS))
    except ValueError:
        days = DASHBOARD_DEFAULT_DAYS
    if days not in DASHBOARD_PERIODS:
        days = DASHBOARD_DEFAULT_DAYS
    since = selectors.local_day_start(timezone.localdate() - timedelta(days=days - 1))

    totals = selectors.prediction_review_figures(since=since)
    versions = selectors.model_version_review_figures(since=since)
    daily = selectors.prediction_daily_counts(since=since)
    histogram = selectors.prediction_probability_histogram(since=since)
    bins = len(histogram)
    histogram_rows = [
        {"low": n / bins, "high": (n + 1) / bins, "count": count}
        for n, count in enumerate(histogram)
    ]
    chart_data = {
        "daily": {
            "days": [row["day"].isoformat() for row in daily],
            "disaster": [row["disaster"] for row in daily],
            "not_disaster": [row["predictions"] - row["disaster"] for row in daily],
            "reviewed": [row["reviewed"] for row in daily],
        },
        "histogram": {
            "bins": [f"{row['low']:.1f}-{row['high']:.1f}" for row in histogram_rows],
            "counts": histogram,
        },
        "versions": {
            "names": [version.name for version, _ in versions],
            "disaster_share": [figures.disaster_share for _, figures in versions],
            "reviewed_share": [figures.reviewed_share for _, figures in versions],
            "agreement": [figures.agreement for _, figures in versions],
            "precision": [figures.precision for _, figures in versions],
            "recall": [figures.recall for _, figures in versions],
        },
    }
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": "Dashboard",
        "days": days,
        "periods": DASHBOARD_PERIODS,
        "since": since,
        "totals": totals,
        "versions": versions,
        "daily": daily,
        "histogram_rows": histogram_rows,
        "chart_data": chart_data,
    }
    return render(request, "admin/predictor/prediction/dashboard.html", context)
