"""The Django admin for reviewers: stored predictions (filter, relabel, export), model versions
(read-only, activate/roll back, train a new one) and background jobs (read-only, start a failed
one again). The review queue, dashboard and version pages live in predictor/admin_views.py."""

from __future__ import annotations

import csv
from typing import Any

from django.contrib import admin, messages
from django.db.models import F, OrderBy, Q, QuerySet
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.template.loader import render_to_string
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator
from django.utils.translation import ngettext

from ml.persistence import ArtifactError
from predictor import admin_views, jobs, selectors, services
from predictor.errors import TrainingAlreadyQueued
from predictor.models import (
    Job,
    JobStatus,
    Label,
    ModelActivation,
    ModelVersion,
    Prediction,
    prediction_margin,
)
from predictor.templatetags.review_admin import metric, short_id
from predictor.views import job_duration, job_retry_allowed, job_url

admin.site.site_header = "Disaster Tweets administration"
admin.site.site_title = "Disaster Tweets admin"
admin.site.index_title = "Review and models"
# The prediction list is wide; reviewers need the room more than the app sidebar.
admin.site.enable_nav_sidebar = False


class ReviewedFilter(admin.SimpleListFilter):
    title = "reviewed"
    parameter_name = "reviewed"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() in ("yes", "no"):
            return queryset.filter(true_label__isnull=self.value() == "no")
        return queryset


class ModelWrongFilter(admin.SimpleListFilter):
    """Reviewed predictions whose reviewer label differs from (or matches) the model's."""

    title = "model was wrong"
    parameter_name = "wrong"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("yes", "Yes (reviewer disagreed)"), ("no", "No (reviewer agreed)")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        same = Q(true_label=F("predicted_label"))
        if self.value() == "yes":
            return queryset.filter(true_label__isnull=False).exclude(same)
        if self.value() == "no":
            return queryset.filter(same)
        return queryset


class LabelLooksWrongFilter(admin.SimpleListFilter):
    """Predictions by the last label check (`manage.py label_issues`, "Check labels")."""

    title = "label looks wrong"
    parameter_name = "label_wrong"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("yes", "Yes"), ("no", "No"), ("unchecked", "Not checked")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() in ("yes", "no"):
            return queryset.filter(suspicion__flagged=self.value() == "yes")
        if self.value() == "unchecked":
            return queryset.filter(suspicion__isnull=True)
        return queryset


class _NullsLast(F):
    """A column ordering that puts rows without a value last, ascending or descending (the
    admin calls asc()/desc() with no arguments)."""

    def asc(self, **kwargs: Any) -> OrderBy:
        return super().asc(nulls_last=True)

    def desc(self, **kwargs: Any) -> OrderBy:
        return super().desc(nulls_last=True)


class _ChangeListQuerySet(QuerySet):
    """The changelist's queryset: the date hierarchy's `datetimes()` probes the `created` index
    per period (selectors.prediction_created_periods) instead of truncating every row's date."""

    def datetimes(self, field_name, kind, order="ASC", tzinfo=None, **kwargs):
        periods = None
        if field_name == "created" and kind in ("year", "month", "day") and tzinfo is None:
            periods = selectors.prediction_created_periods(predictions=self, kind=kind)
        if periods is None:
            return super().datetimes(field_name, kind, order, tzinfo, **kwargs)
        return periods if order == "ASC" else periods[::-1]


class _Echo:
    """A write-only file for csv.writer: hands each line back so it can be streamed."""

    def write(self, line: str) -> str:
        return line


@admin.register(Prediction)
class PredictionAdmin(admin.ModelAdmin):
    list_display = [
        "short_text",
        "keyword",
        "location",
        "predicted",
        "probability_display",
        "margin",
        "version",
        "true_label",
        "reviewed_by",
        "suspicion_display",
        "created_display",
    ]
    list_display_links = ["short_text"]
    list_filter = [
        "predicted_label",
        "true_label",
        ReviewedFilter,
        ModelWrongFilter,
        LabelLooksWrongFilter,
        "second_review",
        "model_version",
        "source",
    ]
    list_select_related = ["model_version", "reviewed_by", "suspicion"]
    date_hierarchy = "created"
    search_fields = ["text", "keyword", "location"]
    search_help_text = "Searches the text, keyword and location."
    ordering = ["-created", "-id"]
    list_per_page = 100
    # Counting every row again for "(N total)" costs a full scan per page view at 100k rows.
    show_full_result_count = False
    actions = ["mark_disaster", "mark_not_disaster", "clear_label", "export_csv"]
    fieldsets = [
        ("Tweet", {"fields": ["text", "keyword", "location", "source", "created"]}),
        (
            "Model",
            {
                "fields": [
                    "predicted_label",
                    "probability_display",
                    "threshold",
                    "margin",
                    "model_version",
                ]
            },
        ),
        (
            "Review",
            {
                "fields": [
                    "true_label",
                    "reviewed_by",
                    "reviewed_at",
                    "second_review",
                    "suspicion_display",
                ]
            },
        ),
    ]
    readonly_fields = [
        "text",
        "keyword",
        "location",
        "source",
        "created",
        "predicted_label",
        "probability_display",
        "threshold",
        "margin",
        "model_version",
        "reviewed_by",
        "reviewed_at",
        "suspicion_display",
        "second_review",
    ]

    @admin.display(description="text")
    def short_text(self, prediction: Prediction) -> str:
        return Truncator(prediction.text).chars(80)

    @admin.display(description="predicted", ordering="predicted_label")
    def predicted(self, prediction: Prediction) -> str:
        return prediction.get_predicted_label_display()

    @admin.display(description="probability", ordering="probability")
    def probability_display(self, prediction: Prediction) -> str:
        return f"{prediction.probability:.3f}"

    # Sorting ascending puts the most uncertain first, the order of the review queue.
    @admin.display(description="margin", ordering=prediction_margin())
    def margin(self, prediction: Prediction) -> str:
        """Distance between the probability and the version's threshold."""
        return f"{abs(prediction.probability - prediction.threshold):.3f}"

    @admin.display(description="model", ordering="model_version__created")
    def version(self, prediction: Prediction) -> str:
        return prediction.model_version.name

    # Sorting descending puts the labels that most likely are wrong first; unchecked rows last.
    @admin.display(description="suspicion", ordering=_NullsLast("suspicion__suspicion"))
    def suspicion_display(self, prediction: Prediction) -> str:
        """How likely the reviewer's label is wrong, by the last label check."""
        checked = getattr(prediction, "suspicion", None)
        if checked is None:
            return "-"
        return f"{checked.suspicion:.3f}{' (looks wrong)' if checked.flagged else ''}"

    @admin.display(description="created", ordering="created")
    def created_display(self, prediction: Prediction) -> str:
        return f"{timezone.localtime(prediction.created):%Y-%m-%d %H:%M}"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Prediction]:
        queryset = super().get_queryset(request)
        return _ChangeListQuerySet(model=queryset.model, query=queryset.query, using=queryset.db)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # predictions are made by the model, never typed in

    def _relabel(self, request: HttpRequest, queryset: QuerySet, true_label: str | None) -> None:
        selected = queryset.count()
        changed = services.prediction_review(
            predictions=queryset, true_label=true_label, reviewer=request.user, via="admin action"
        )
        label = Label(true_label).label if true_label else "not reviewed"
        message = ngettext(
            "%(changed)d prediction set to “%(label)s”.",
            "%(changed)d predictions set to “%(label)s”.",
            changed,
        ) % {"changed": changed, "label": label}
        if selected > changed:
            message += f" {selected - changed} already were."
        self.message_user(request, message, messages.SUCCESS)

    @admin.action(description="Mark as disaster", permissions=["change"])
    def mark_disaster(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._relabel(request, queryset, Label.DISASTER)

    @admin.action(description="Mark as not disaster", permissions=["change"])
    def mark_not_disaster(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._relabel(request, queryset, Label.NOT_DISASTER)

    @admin.action(description="Clear reviewer label", permissions=["change"])
    def clear_label(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._relabel(request, queryset, None)

    @admin.action(description="Export selected as CSV", permissions=["view"])
    def export_csv(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse:
        rows = selectors.prediction_export_rows(
            predictions=queryset.order_by("created", "id"), with_prediction=True
        )
        writer = csv.writer(_Echo(), lineterminator="\n")
        response = StreamingHttpResponse(
            (writer.writerow(row) for row in rows), content_type="text/csv; charset=utf-8"
        )
        filename = f"predictions-{timezone.now():%Y%m%d-%H%M%S}.csv"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    def save_model(self, request: HttpRequest, obj: Prediction, form: ModelForm, change: bool):
        # Only true_label is editable; it goes through the review service, which records the
        # reviewer, the time and the history entry.
        if "true_label" in form.changed_data:
            services.prediction_review(
                predictions=Prediction.objects.filter(pk=obj.pk),
                true_label=obj.true_label,
                reviewer=request.user,
                via="admin change page",
            )
            obj.refresh_from_db()

    def log_change(self, request: HttpRequest, obj: Any, message: Any) -> None:
        """Not here: `services.prediction_review` already wrote the history entry."""

    def get_urls(self) -> list[URLPattern]:
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path(
                "review/",
                self.admin_site.admin_view(admin_views.review_queue),
                {"model_admin": self},
                name=f"{info}_review",
            ),
            path(
                "conflicts/",
                self.admin_site.admin_view(admin_views.conflicts),
                {"model_admin": self},
                name=f"{info}_conflicts",
            ),
            path(
                "dashboard/",
                self.admin_site.admin_view(admin_views.dashboard),
                {"model_admin": self},
                name=f"{info}_dashboard",
            ),
            path(
                "check-labels/",
                self.admin_site.admin_view(admin_views.label_issues_check),
                {"model_admin": self},
                name=f"{info}_check_labels",
            ),
            *super().get_urls(),
        ]


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "created",
        "active",
        "eval_f1",
        "eval_precision",
        "eval_recall",
        "eval_set",
        "f1",
        "accuracy",
        "threshold_display",
        "base_rows",
        "feedback_rows",
        "train_seconds",
        "live_agreement",
        "checks",
    ]
    actions = ["activate"]
    fields = [
        *(name for name in ModelVersion.RECORD_FIELDS if name not in ("evaluation", "gate")),
        "evaluation_report",
        "gate_report",
        "artifact_path",
        "sha256",
        "predictions_made",
        "live_agreement",
    ]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[ModelVersion]:
        return selectors.model_version_list_with_agreement()

    @admin.display(description="active", boolean=True, ordering="is_active")
    def active(self, version: ModelVersion) -> bool:
        return version.is_active

    # Figures on the evaluation set: held out from every version's training, so they compare.
    @admin.display(description="eval F1", ordering="evaluation__f1")
    def eval_f1(self, version: ModelVersion) -> str:
        return self._metric(version.evaluation, "f1")

    @admin.display(description="eval precision", ordering="evaluation__precision")
    def eval_precision(self, version: ModelVersion) -> str:
        return self._metric(version.evaluation, "precision")

    @admin.display(description="eval recall", ordering="evaluation__recall")
    def eval_recall(self, version: ModelVersion) -> str:
        return self._metric(version.evaluation, "recall")

    @admin.display(description="eval set")
    def eval_set(self, version: ModelVersion) -> str:
        return short_id((version.evaluation or {}).get("set"))

    # Out-of-fold on the version's own training data: not comparable across versions.
    @admin.display(description="OOF F1", ordering="metrics__f1")
    def f1(self, version: ModelVersion) -> str:
        return self._metric(version.metrics, "f1")

    @admin.display(description="OOF accuracy", ordering="metrics__accuracy")
    def accuracy(self, version: ModelVersion) -> str:
        return self._metric(version.metrics, "accuracy")

    @staticmethod
    def _metric(figures: dict | None, name: str) -> str:
        return metric((figures or {}).get(name))

    @admin.display(description="check")
    def checks(self, version: ModelVersion) -> str:
        """Links to the version's comparison with the active one and its shadow replay."""
        replay = reverse("admin:predictor_modelversion_replay", args=[version.pk])
        if version.is_active:
            return format_html('<a href="{}">Shadow replay</a>', replay)
        compare = reverse("admin:predictor_modelversion_compare", args=[version.pk])
        return format_html(
            '<a href="{}">Compare</a> · <a href="{}">Shadow replay</a>', compare, replay
        )

    @admin.display(description="evaluation set figures")
    def evaluation_report(self, version: ModelVersion) -> str:
        current = selectors.evaluation_set_current()
        return render_to_string(
            "admin/predictor/modelversion/includes/evaluation.html",
            {
                "evaluation": version.evaluation,
                "current": current is not None
                and (version.evaluation or {}).get("set") == current.identifier,
            },
        )

    @admin.display(description="promotion gate")
    def gate_report(self, version: ModelVersion) -> str:
        return render_to_string(
            "admin/predictor/modelversion/includes/gate_report.html", {"gate": version.gate}
        )

    @admin.display(description="threshold", ordering="threshold")
    def threshold_display(self, version: ModelVersion) -> str:
        return f"{version.threshold:.3f}"

    @admin.display(description="live agreement", ordering="live_agreement")
    def live_agreement(self, version: ModelVersion) -> str:
        if version.live_agreement is None:
            return "-"
        return f"{version.live_agreement:.1%} of {version.reviewed_count:,}"

    @admin.display(description="predictions")
    def predictions_made(self, version: ModelVersion) -> str:
        count = version.predictions.count()
        url = reverse("admin:predictor_prediction_changelist")
        return format_html(
            '<a href="{}?model_version__id__exact={}">{} made with {}</a>',
            url,
            version.pk,
            f"{count:,} prediction{'s' * (count != 1)}",
            version.name,
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Versions come from training (`manage.py retrain`, or the list's "Train a new version",
        # which checks the add permission itself), never from a form.
        return False

    def has_change_permission(self, request: HttpRequest, obj: ModelVersion | None = None) -> bool:
        return False  # a version's record is what was trained; only activation changes

    def has_delete_permission(self, request: HttpRequest, obj: ModelVersion | None = None) -> bool:
        # A version that made predictions or was ever live stays on record.
        if obj is not None and (
            obj.is_active or obj.predictions.exists() or obj.activations.exists()
        ):
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request: HttpRequest) -> dict:
        actions = super().get_actions(request)
        # Bulk delete would bypass the per-version checks of has_delete_permission.
        actions.pop("delete_selected", None)
        return actions

    def has_activate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.activate_modelversion")

    @admin.action(description="Activate selected version", permissions=["activate"])
    def activate(self, request: HttpRequest, queryset: QuerySet[ModelVersion]) -> None:
        versions = list(queryset[:2])
        if len(versions) != 1:
            self.message_user(request, "Select exactly one version to activate.", messages.ERROR)
            return
        version = versions[0]
        if version.is_active:
            self.message_user(request, f"Model {version} is already active.", messages.INFO)
            return
        previous = selectors.model_version_active()
        try:
            services.model_version_activate(version=version, user=request.user, via="admin")
        except ArtifactError as exc:
            self.message_user(request, f"Could not activate {version}: {exc}", messages.ERROR)
            return
        was = f" (was {previous})" if previous else ""
        self.message_user(request, f"Activated model {version}{was}.", messages.SUCCESS)

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        context = {
            "evaluation_set": selectors.evaluation_set_current(),
            "can_activate": self.has_activate_permission(request),
            "rollback_target": selectors.model_version_rollback_target(),
            "can_train": request.user.has_perm(f"{self.opts.app_label}.add_modelversion"),
            "training": selectors.job_training_unfinished(),
            **(extra_context or {}),
        }
        return super().changelist_view(request, context)

    def get_urls(self) -> list[URLPattern]:
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        pages = [
            ("rollback/", admin_views.model_version_rollback, "rollback"),
            ("train/", admin_views.model_version_train, "train"),
            ("<path:object_id>/compare/", admin_views.model_version_compare, "compare"),
            ("<path:object_id>/replay/", admin_views.model_version_replay, "replay"),
        ]
        return [
            *(
                path(
                    route,
                    self.admin_site.admin_view(view),
                    {"model_admin": self},
                    name=f"{info}_{name}",
                )
                for route, view, name in pages
            ),
            *super().get_urls(),
        ]


@admin.register(ModelActivation)
class ModelActivationAdmin(admin.ModelAdmin):
    """Which version was live when: every activation and rollback, newest first (read-only)."""

    list_display = ["created", "version", "previous", "user", "via", "reason"]
    list_filter = ["via"]
    list_select_related = ["version", "previous", "user"]
    date_hierarchy = "created"
    fields = list_display
    readonly_fields = list_display

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # recorded by services.model_version_activate only

    def has_change_permission(
        self, request: HttpRequest, obj: ModelActivation | None = None
    ) -> bool:
        return False

    def has_delete_permission(
        self, request: HttpRequest, obj: ModelActivation | None = None
    ) -> bool:
        return False


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    """Background jobs, newest first (read-only): each row links to the job's page; failed jobs
    can be started again."""

    list_display = [
        "job",
        "kind",
        "status",
        "stage",
        "progress_bar",
        "requested_by",
        "created",
        "duration",
    ]
    list_display_links = None
    list_filter = ["kind", "status"]
    list_select_related = ["requested_by"]
    ordering = ["-created", "-id"]
    date_hierarchy = "created"
    actions = ["start_again"]

    @admin.display(description="job", ordering="id")
    def job(self, job: Job) -> str:
        return format_html('<a href="{}">#{}</a>', job_url(job), job.pk)

    @admin.display(description="progress", ordering="progress")
    def progress_bar(self, job: Job) -> str:
        return format_html(
            '<progress max="100" value="{}" aria-label="Job #{} progress">{}%</progress> {}%',
            job.progress,
            job.pk,
            job.progress,
            job.progress,
        )

    @admin.display(description="duration")
    def duration(self, job: Job) -> str:
        return job_duration(job)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Job]:
        # A job whose worker died reads as failed at once, as on its page and in the API.
        jobs.jobs_reap_stale()
        return super().get_queryset(request).defer("params", "result")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # queued by the upload page, the models list's button and the API

    def has_change_permission(self, request: HttpRequest, obj: Job | None = None) -> bool:
        return False  # written by the worker only

    def has_delete_permission(self, request: HttpRequest, obj: Job | None = None) -> bool:
        return False  # the record of who ran what

    def change_view(self, request: HttpRequest, object_id: str, *args, **kwargs) -> HttpResponse:
        """A job has one page, the site's, which follows its progress and shows its result."""
        job = self.get_object(request, object_id)
        if job is None or not self.has_view_permission(request, job):
            return super().change_view(request, object_id, *args, **kwargs)
        return HttpResponseRedirect(job_url(job))

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    @admin.action(description="Start the selected failed jobs again", permissions=["retry"])
    def start_again(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        retries: list[Job] = []
        refused: list[str] = []
        for job in queryset.filter(status=JobStatus.FAILED).order_by("created", "id"):
            if not job_retry_allowed(user=request.user, job=job):
                refused.append(f"#{job.pk} (not allowed)")
                continue
            try:
                retries.append(jobs.job_retry(job=job, user=request.user))
            except TrainingAlreadyQueued as exc:
                refused.append(f"#{job.pk} (a training is already {exc.job.status}: #{exc.job.pk})")
            except ValueError as exc:
                refused.append(f"#{job.pk} ({exc})")
        if retries:
            links = format_html_join(
                ", ", '<a href="{}">#{}</a>', ((job_url(retry), retry.pk) for retry in retries)
            )
            self.message_user(request, format_html("Started again as {}.", links), messages.SUCCESS)
        if refused:
            self.message_user(
                request, "Not started again: " + "; ".join(refused) + ".", messages.WARNING
            )
        if not retries and not refused:
            self.message_user(request, "Only failed jobs can be started again.", messages.WARNING)
