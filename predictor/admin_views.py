"""Staff pages inside the admin: the review queue (one unreviewed prediction at a time, most
uncertain first) and the dashboard, wired in by PredictionAdmin.get_urls; a version's comparison
with the active one (and promotion), its shadow replay, rollback, and training a new version in
the background, by ModelVersionAdmin's."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from ml.explain import Explanation
from ml.gate import Comparison
from ml.persistence import ArtifactError
from predictor import jobs, selectors, services
from predictor.errors import (
    ExplanationUnavailable,
    NoEarlierVersion,
    NoEvaluationSet,
    TrainingAlreadyQueued,
)
from predictor.models import Label, ModelVersion, Prediction, SecondReview

# Skipped ids kept in the session (the most recent ones), so "Skip" never shows a tweet again
# in that session without letting the session grow without bound.
SKIPPED_SESSION_KEY = "review_skipped"
SKIPPED_MAX = 1000

RESOLVE_PERMISSION = "predictor.resolve_conflict"
# With "blind first", the prediction just answered, whose reasons the next page shows.
ANSWERED_SESSION_KEY = "review_answered"
# The queue page's second form: "on" or "off" (the reviewer's preference).
BLIND_FIRST_FIELD = "blind_first"

SKIP = "skip"
RESTART = "restart"
DASHBOARD_PERIODS = (7, 30, 90, 365)
DASHBOARD_DEFAULT_DAYS = 30
REPLAY_DEFAULT = 1000
REPLAY_MAX = 100_000


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
    blind_first = selectors.reviewer_blind_first(user=request.user)
    if request.method == "POST":
        if BLIND_FIRST_FIELD in request.POST:
            _set_blind_first(request, request.POST[BLIND_FIRST_FIELD])
            return HttpResponseRedirect(request.path)
        # Whether the reviewer saw the model's reasons before answering this one.
        explanation_shown = not blind_first
        form = ReviewDecisionForm(request.POST)
        if not form.is_valid():
            messages.error(request, "That decision was not understood; nothing was changed.")
        else:
            prediction_id, decision = form.cleaned_data["prediction"], form.cleaned_data["decision"]
            _decide(request, prediction_id, decision, explanation_shown=explanation_shown)
            if not explanation_shown and decision in Label.values:
                request.session[ANSWERED_SESSION_KEY] = prediction_id
        return HttpResponseRedirect(request.path)

    prediction = services.prediction_review_next(reviewer=request.user, exclude_ids=skipped)
    answered = _answered_prediction(request)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": "Review queue",
        "prediction": prediction,
        "progress": selectors.prediction_review_progress(reviewer=request.user),
        "second_review": prediction is not None
        and prediction.second_review == SecondReview.PENDING,
        "can_resolve": request.user.has_perm(RESOLVE_PERMISSION),
        "skipped": len(skipped),
        "decisions": [
            (Label.DISASTER, "Disaster", "d"),
            (Label.NOT_DISASTER, "Not a disaster", "n"),
            (SKIP, "Skip", "s"),
        ],
        "blind_first": blind_first,
        "explanation": _explanation(prediction) if prediction and not blind_first else None,
        "answered": answered,
        "answered_explanation": _explanation(answered) if answered else None,
        "answered_heading": answered
        and f"Why the model said “{answered.get_predicted_label_display()}” for #{answered.pk}",
    }
    return render(request, "admin/predictor/prediction/review_queue.html", context)


def _set_blind_first(request: HttpRequest, value: str) -> None:
    if value not in ("on", "off"):
        messages.error(request, "That preference was not understood; nothing was changed.")
        return
    services.reviewer_preference_update(user=request.user, blind_first=value == "on")
    if value == "on":
        messages.info(request, "The model's reasons now stay hidden until you have answered.")
    else:
        messages.info(request, "The model's reasons are shown with each prediction again.")


def _answered_prediction(request: HttpRequest) -> Prediction | None:
    """The prediction answered blind just before, once (the session forgets it)."""
    answered_id = request.session.pop(ANSWERED_SESSION_KEY, None)
    if answered_id is None:
        return None
    return selectors.prediction_list().filter(pk=answered_id).first()


def _explanation(prediction: Prediction) -> Explanation | None:
    """The prediction's explanation; None (the page says so) when its version cannot be loaded."""
    try:
        return selectors.prediction_explanation(prediction=prediction)
    except ExplanationUnavailable:
        return None


def _decide(
    request: HttpRequest, prediction_id: int | None, decision: str, *, explanation_shown: bool
) -> None:
    skipped: list[int] = request.session.get(SKIPPED_SESSION_KEY, [])
    if decision == RESTART:
        request.session[SKIPPED_SESSION_KEY] = []
        messages.info(request, "Skipped predictions are back in the queue.")
        return
    if decision == SKIP:
        request.session[SKIPPED_SESSION_KEY] = [*skipped, prediction_id][-SKIPPED_MAX:]
        return
    changed = services.prediction_review(
        # Only what the queue offers: an unreviewed item (a colleague's label given meanwhile is
        # not overwritten) or one waiting for its second review by someone else.
        predictions=Prediction.objects.filter(pk=prediction_id).filter(
            Q(true_label__isnull=True)
            | Q(second_review=SecondReview.PENDING) & ~Q(reviewed_by=request.user)
        ),
        true_label=decision,
        reviewer=request.user,
        via="review queue",
        explanation_shown=explanation_shown,
        double_review=True,
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


class ConflictResolutionForm(forms.Form):
    prediction = forms.IntegerField(min_value=1)
    true_label = forms.ChoiceField(choices=Label.choices)


@require_http_methods(["GET", "HEAD", "POST"])
def conflicts(request: HttpRequest, model_admin: admin.ModelAdmin) -> HttpResponse:
    """GET lists the predictions whose two reviewers disagreed, with both labels; POST settles
    one with the final label (services.prediction_conflict_resolve), then redirects back. Needs
    the resolve_conflict permission."""
    if not request.user.has_perm(RESOLVE_PERMISSION):
        raise PermissionDenied
    if request.method == "POST":
        form = ConflictResolutionForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Choose the final label of a prediction; nothing was changed.")
        else:
            _resolve(request, form.cleaned_data["prediction"], form.cleaned_data["true_label"])
        return HttpResponseRedirect(request.path)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": "Conflicts",
        "conflicts": selectors.prediction_conflict_list(),
        "counts": selectors.prediction_double_review_counts(),
        "labels": Label.choices,
    }
    return render(request, "admin/predictor/prediction/conflicts.html", context)


def _resolve(request: HttpRequest, prediction_id: int, true_label: str) -> None:
    prediction = Prediction.objects.filter(pk=prediction_id).first()
    resolved = prediction is not None and services.prediction_conflict_resolve(
        prediction=prediction, true_label=true_label, resolver=request.user
    )
    link = reverse("admin:predictor_prediction_change", args=[prediction_id])
    if resolved:
        messages.success(
            request,
            format_html(
                '<a href="{}">#{}</a> resolved as “{}”.',
                link,
                prediction_id,
                Label(true_label).label,
            ),
        )
    else:
        messages.warning(
            request,
            format_html(
                '<a href="{}">#{}</a> is not in conflict (resolved meanwhile, or gone); '
                "nothing was changed.",
                link,
                prediction_id,
            ),
        )


@require_safe
def dashboard(request: HttpRequest, model_admin: admin.ModelAdmin) -> HttpResponse:
    """Predictions per day (with the activations marked), share called disaster, probabilities,
    reviews and the model's agreement with reviewers, overall and per model version, and the live
    accuracy the audit sample measures, over the last N days."""
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
    audit = selectors.prediction_audit_estimate(since=since)
    active = selectors.model_version_active()
    if active is not None:
        services.model_version_drift_reference_ensure(version=active)
    drift = selectors.prediction_drift(version=active)
    activations = list(selectors.model_activation_list(since=since))
    evaluation_set = selectors.evaluation_set_current()
    reviewer_agreement = selectors.reviewer_evaluation_agreement(
        since=since, evaluation_set=evaluation_set
    )
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
        "activations": [
            {
                "day": timezone.localdate(activation.created).isoformat(),
                "version": activation.version.name,
                "reason": activation.reason,
            }
            for activation in activations
        ],
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
        "audit": audit,
        "active": active,
        "activations": activations,
        "chart_data": chart_data,
        "double_review": selectors.prediction_double_review_counts(),
        "pairs": selectors.review_pair_agreement(since=since),
        "reviewers": [row for row in reviewer_agreement if row.reviewer is not None],
        "reviewers_total": next((row for row in reviewer_agreement if row.reviewer is None), None),
        "evaluation_set": evaluation_set,
        "can_resolve": request.user.has_perm(RESOLVE_PERMISSION),
        "drift": drift,
        "drift_min_predictions": settings.DRIFT_MIN_PREDICTIONS,
    }
    return render(request, "admin/predictor/prediction/dashboard.html", context)


# --- model versions ---------------------------------------------------------------------------


class ForcePromoteForm(forms.Form):
    """The confirmation to promote a version the gate refused: why, and against which version
    the refusal was shown (so a change of the active version meanwhile is noticed)."""

    reason = forms.CharField(
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Recorded with the activation as “forced: …”, beside the gate's verdict.",
    )
    active = forms.IntegerField(required=False, widget=forms.HiddenInput)


class ReplayForm(forms.Form):
    last = forms.IntegerField(
        min_value=1,
        max_value=REPLAY_MAX,
        label="Predictions to replay",
        help_text=f"The most recent ones; at most {REPLAY_MAX:,}.",
    )


def _version(request: HttpRequest, model_admin: admin.ModelAdmin, object_id: str) -> ModelVersion:
    version = model_admin.get_object(request, unquote(object_id))
    if version is None:
        raise Http404("No such model version.")
    return version


def _version_url(version: ModelVersion) -> str:
    return reverse("admin:predictor_modelversion_change", args=[version.pk])


VERSIONS_URL = "admin:predictor_modelversion_changelist"


@require_http_methods(["GET", "HEAD", "POST"])
def model_version_compare(
    request: HttpRequest, object_id: str, model_admin: admin.ModelAdmin
) -> HttpResponse:
    """GET: the gate's paired comparison of a version with the active one on the current
    evaluation set. POST: promote it (services.model_version_promote); when the gate refuses,
    the page asks for a reason, and a POST with one promotes it anyway."""
    _require(request, model_admin, "view")
    version = _version(request, model_admin, object_id)
    can_promote = model_admin.has_activate_permission(request)
    active = selectors.model_version_active()
    if request.method != "POST" and active is not None and active.pk == version.pk:
        messages.info(request, f"Nothing to compare: {version} is the active version.")
        return HttpResponseRedirect(_version_url(version))
    comparison = None
    force_form = None
    try:
        if request.method == "POST":
            if not can_promote:
                raise PermissionDenied
            force_form, comparison, done = _promote(request, version, active)
            if done:
                return HttpResponseRedirect(reverse(VERSIONS_URL))
        if comparison is None and active is not None:
            comparison = services.model_version_compare(candidate=version, active=active)
    except (ArtifactError, NoEvaluationSet) as exc:
        action = f"compare {version} with {active}" if active else f"activate {version}"
        messages.error(request, f"Could not {action}: {exc}")
        return HttpResponseRedirect(_version_url(version))
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": f"Compare {version} with the active version",
        "version": version,
        "active": active,
        "comparison": comparison,
        "evaluation_set": selectors.evaluation_set_current(),
        "can_promote": can_promote,
        "force_form": force_form,
    }
    return render(request, "admin/predictor/modelversion/compare.html", context)


def _promote(
    request: HttpRequest, version: ModelVersion, active: ModelVersion | None
) -> tuple[ForcePromoteForm | None, Comparison | None, bool]:
    """One promotion POST: (the confirmation form to show, the comparison, whether it is done)."""
    was = f" (was {active})" if active else " (no version was active)"
    if "force" not in request.POST:
        activated, comparison = services.model_version_promote(version=version, user=request.user)
        if not activated:
            # Messages start with a capital (the admin's CSS makes "v3" "V3"), so not with a name.
            messages.warning(
                request,
                f"The gate refused {version}: {comparison.reason.removeprefix('refuse: ')}. "
                f"To promote it anyway, give your reason below.",
            )
            return _confirmation(active), comparison, False
        if active is not None and active.pk == version.pk:
            messages.info(request, f"Nothing to do: {version} is already the active version.")
        else:
            because = f": {comparison.reason}" if comparison else ""
            messages.success(request, f"Promoted {version}{was}{because}.")
        return None, comparison, True

    form = ForcePromoteForm(request.POST)
    if not form.is_valid():
        return form, None, False
    if form.cleaned_data["active"] != (active.pk if active else None):
        # The refusal the reason answers was against another version: show the new comparison.
        messages.warning(
            request,
            f"The active version changed meanwhile (now {active or 'none'}): "
            f"check the comparison below and confirm again.",
        )
        return _confirmation(active), None, False
    reason = form.cleaned_data["reason"]
    _, comparison = services.model_version_promote(
        version=version, user=request.user, force_reason=reason
    )
    messages.success(request, f"Promoted {version}{was}, forced: {reason}")
    return None, comparison, True


def _confirmation(active: ModelVersion | None) -> ForcePromoteForm:
    return ForcePromoteForm(initial={"active": active.pk if active else None})


@require_POST
def model_version_rollback(request: HttpRequest, model_admin: admin.ModelAdmin) -> HttpResponse:
    """Re-activate the version the active one replaced (services.model_version_rollback)."""
    _require(request, model_admin, "activate")
    active = selectors.model_version_active()
    try:
        version = services.model_version_rollback(user=request.user, via="admin")
    except NoEarlierVersion as exc:
        messages.error(request, f"Nothing to roll back to: {exc}.")
    except ArtifactError as exc:
        messages.error(request, f"Could not roll back: {exc}")
    else:
        messages.success(request, f"Rolled back from {active or 'no active version'} to {version}.")
    return HttpResponseRedirect(reverse(VERSIONS_URL))


@require_POST
def model_version_train(request: HttpRequest, model_admin: admin.ModelAdmin) -> HttpResponse:
    """Queue the training of a new version (jobs.job_training_enqueue) and go to its job page;
    while a training is already queued or running, go to that one's page instead."""
    _require(request, model_admin, "add")
    try:
        job = jobs.job_training_enqueue(user=request.user)
    except TrainingAlreadyQueued as exc:
        messages.warning(
            request,
            f"A training is already {exc.job.status} (job #{exc.job.pk}): "
            "this is its page; a new one can start when it ends.",
        )
        return HttpResponseRedirect(reverse("job", args=[exc.job.pk]))
    messages.success(
        request,
        f"Training queued as job #{job.pk}: the gate's report shows here when it is done.",
    )
    return HttpResponseRedirect(reverse("job", args=[job.pk]))


@require_POST
def label_issues_check(request: HttpRequest, model_admin: admin.ModelAdmin) -> HttpResponse:
    """Queue a label check (jobs.job_label_issues_enqueue) and go to its job page; while one is
    queued or running, go to that one's page instead."""
    _require(request, model_admin, "change")
    running = selectors.job_label_issues_unfinished()
    job = running or jobs.job_label_issues_enqueue(user=request.user)
    if running is not None:
        messages.warning(
            request, f"A label check is already {job.status} (job #{job.pk}): this is its page."
        )
    else:
        messages.success(
            request,
            f"Label check queued as job #{job.pk}: what it found shows here when it is done.",
        )
    return HttpResponseRedirect(reverse("job", args=[job.pk]))


@require_http_methods(["GET", "HEAD", "POST"])
def model_version_replay(
    request: HttpRequest, object_id: str, model_admin: admin.ModelAdmin
) -> HttpResponse:
    """GET: what a version would have said about the last N stored predictions (a shadow replay,
    services.prediction_replay). POST: send the predictions it would flip to the review queue."""
    _require(request, model_admin, "view")
    if not request.user.has_perm("predictor.view_prediction"):
        raise PermissionDenied  # the page shows the tweets
    version = _version(request, model_admin, object_id)
    can_request = request.user.has_perm("predictor.change_prediction")
    if request.method == "POST":
        if not can_request:
            raise PermissionDenied
        form = ReplayForm(request.POST)
    else:
        form = ReplayForm({"last": request.GET.get("last", REPLAY_DEFAULT)})
    replay = None
    if form.is_valid():
        last = form.cleaned_data["last"]
        try:
            replay = services.prediction_replay(version=version, last=last)
        except ArtifactError as exc:
            messages.error(request, f"Could not replay {version}: {exc}")
            return HttpResponseRedirect(_version_url(version))
        if request.method == "POST":
            queued = services.prediction_review_request(
                predictions=Prediction.objects.filter(pk__in=replay.flip_ids)
            )
            messages.success(request, _queued_message(queued, len(replay.flip_ids)))
            url = reverse("admin:predictor_modelversion_replay", args=[version.pk])
            return HttpResponseRedirect(f"{url}?last={last}")
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": f"Shadow replay of {version}",
        "version": version,
        "form": form,
        "replay": replay,
        "labels": [label for _, label in Label.choices],
        "table": _replay_table(replay) if replay else None,
        "can_request": can_request,
    }
    return render(request, "admin/predictor/modelversion/replay.html", context)


def _queued_message(queued: int, flips: int) -> str:
    message = f"{queued:,} flipped prediction{'s' * (queued != 1)} sent to the review queue"
    if flips > queued:
        message += f"; {flips - queued:,} already reviewed"
    return message + "."


def _replay_table(replay: services.Replay) -> list[tuple[str, list[int]]]:
    """The 2x2 table of stored against replayed labels, as (stored label, counts by new label)."""
    return [
        (Label(old).label, [replay.table.get(old, {}).get(new, 0) for new in Label.values])
        for old in Label.values
    ]
