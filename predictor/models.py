"""Stored model versions and every prediction made with them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Abs
from django.utils import timezone


def prediction_margin() -> Abs:
    """How far a prediction's probability is from its threshold (small: the model was unsure).

    The review queue's partial index holds this expression: every query that orders by it must
    use this function, since the database uses the index only for an identical expression.
    """
    return Abs(F("probability") - F("threshold"))


class Label(models.TextChoices):
    DISASTER = "disaster", "Disaster"
    NOT_DISASTER = "not_disaster", "Not a disaster"

    @classmethod
    def for_probability(cls, probability: float, threshold: float) -> Label:
        """The model's verdict: a disaster when the probability is at or above the threshold."""
        return cls.DISASTER if probability >= threshold else cls.NOT_DISASTER

    @classmethod
    def to_target(cls, label: str) -> int:
        return 1 if label == cls.DISASTER else 0


class SecondReview(models.TextChoices):
    """Where a prediction is in double review: drawn for a second reviewer (pending), then the
    two labels agreed or are in conflict until a staff member resolves it."""

    NONE = "", "None"
    PENDING = "pending", "Pending"
    AGREED = "agreed", "Agreed"
    CONFLICT = "conflict", "Conflict"
    RESOLVED = "resolved", "Resolved"


def label_is_truth(prefix: str = "") -> Q:
    """A reviewer's label that counts as the truth (for training, the evaluation set, the
    model's agreement): there is one, and it is not in a double-review conflict. `prefix`
    reaches the prediction through a join ("predictions__")."""
    return Q(**{f"{prefix}true_label__isnull": False}) & ~Q(
        **{f"{prefix}second_review": SecondReview.CONFLICT}
    )


class Source(models.TextChoices):
    FORM = "form", "Web form"
    API = "api", "API"
    BATCH = "batch", "API batch"
    COMMAND = "command", "Command line"
    CSV = "csv", "CSV file"


class ModelVersion(models.Model):
    """One trained pipeline: its artifact (verified by SHA-256 before loading) and its figures."""

    name = models.CharField(max_length=32, unique=True)
    created = models.DateTimeField(default=timezone.now)
    artifact_path = models.CharField(
        max_length=255, help_text="Artifact file, relative to DATA_DIR/models."
    )
    sha256 = models.CharField(max_length=64)
    threshold = models.FloatField(help_text="Probability at or above which a tweet is a disaster.")
    base_rows = models.PositiveIntegerField(default=0)
    feedback_rows = models.PositiveIntegerField(default=0)
    training_data = models.CharField(max_length=255, blank=True)
    metrics = models.JSONField(default=dict, blank=True, help_text="Validation-split metrics.")
    train_seconds = models.FloatField(default=0.0)
    library_versions = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=False)
    activated_at = models.DateTimeField(null=True, blank=True)
    evaluation = models.JSONField(
        null=True, blank=True, help_text="Figures on the current evaluation set (None: not scored)."
    )
    gate = models.JSONField(
        null=True,
        blank=True,
        help_text="When it was trained: the comparison with the version then active, the verdict.",
    )
    drift_reference = models.JSONField(
        null=True,
        blank=True,
        help_text="Drift yardstick: its share called disaster, mean probability and share of "
        "unknown words on held-out training rows (None: trained before these were kept).",
    )

    # What a version's record shows, in the API and at the top of its admin page.
    RECORD_FIELDS = (
        "name",
        "created",
        "is_active",
        "activated_at",
        "threshold",
        "base_rows",
        "feedback_rows",
        "training_data",
        "metrics",
        "train_seconds",
        "library_versions",
        "evaluation",
        "gate",
    )

    class Meta:
        ordering = ["-created"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"],
                condition=Q(is_active=True),
                name="predictor_one_active_model_version",
            )
        ]
        permissions = [("activate_modelversion", "Can activate a model version")]

    def __str__(self) -> str:
        return self.name


class ModelActivation(models.Model):
    """One activation or rollback: which version went live, which one it replaced, who made the
    change, where (`via`) and why. Together they answer "which version was active at time T"."""

    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="activations")
    previous = models.ForeignKey(
        ModelVersion, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    via = models.CharField(max_length=32, help_text="Where: admin, command, retrain, ...")
    reason = models.TextField(blank=True)
    created = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created", "-id"]
        get_latest_by = ["created", "id"]

    def __str__(self) -> str:
        return f"{self.version} activated {self.created:%Y-%m-%d %H:%M:%S}"


class EvaluationSet(models.Model):
    """A fixed set of labelled rows that no version trains on, named by a hash of its content:
    a grouped, stratified slice of the base data plus the audit sample's reviews."""

    identifier = models.CharField(max_length=64, unique=True)
    base_rows = models.PositiveIntegerField()
    audit_rows = models.PositiveIntegerField()
    training_data = models.CharField(max_length=255, help_text="The base CSV it was cut from.")
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created", "-id"]
        get_latest_by = ["created", "id"]

    def __str__(self) -> str:
        return f"{self.identifier[:12]} ({self.size} rows)"

    @property
    def size(self) -> int:
        return self.base_rows + self.audit_rows


class EvaluationRow(models.Model):
    """One labelled row of an evaluation set: from the base data, or an audit review."""

    evaluation_set = models.ForeignKey(EvaluationSet, on_delete=models.CASCADE, related_name="rows")
    text = models.TextField()
    keyword = models.CharField(max_length=100, blank=True)
    location = models.CharField(max_length=100, blank=True)
    target = models.PositiveSmallIntegerField()
    # The audit review it came from; None for a row of the base data.
    prediction = models.ForeignKey(
        "Prediction", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    def __str__(self) -> str:
        return f"{self.text[:40]} → {self.target}"


class ModelArtifact(models.Model):
    """The artifact's bytes, for instances that share a database but not a disk (MODEL_STORE)."""

    version = models.OneToOneField(ModelVersion, on_delete=models.CASCADE, related_name="stored")
    data = models.BinaryField()

    def __str__(self) -> str:
        return f"artifact of {self.version_id}"


class Prediction(models.Model):
    """A tweet that was submitted, what the model said, and what a reviewer said later."""

    text = models.TextField()
    keyword = models.CharField(max_length=100, blank=True)
    location = models.CharField(max_length=100, blank=True)
    probability = models.FloatField()
    predicted_label = models.CharField(max_length=12, choices=Label.choices)
    threshold = models.FloatField()
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.PROTECT, related_name="predictions"
    )
    source = models.CharField(max_length=8, choices=Source.choices)
    created = models.DateTimeField(default=timezone.now)
    # NULL, not "", means "not reviewed yet": the review queue's partial index relies on it.
    true_label = models.CharField(  # noqa: DJ001
        max_length=12, choices=Label.choices, null=True, blank=True
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="reviewed_predictions",
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    # Picked at random for the review queue's audit sample: its review measures live accuracy
    # and joins the evaluation set instead of the training data.
    # db_default: the store's INSERT names only the columns a new prediction sets.
    is_audit = models.BooleanField(db_default=False)
    # Sent back to the review queue (e.g. a shadow replay's flips): shown before the rest.
    review_requested = models.BooleanField(db_default=False)
    # The CSV scoring job that stored it: a failed job's rows are deleted by this. No index on
    # the (mostly NULL) column itself; the partial one below covers job rows only.
    job = models.ForeignKey(
        "Job",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        db_index=False,
        related_name="predictions",
    )
    # Double review: "" (none), or pending / agreed / conflict / resolved. While in conflict
    # the label trains nothing and is no evaluation row. db_default: as is_audit.
    second_review = models.CharField(
        "double review",
        max_length=8,
        choices=SecondReview.choices,
        blank=True,
        db_default=SecondReview.NONE,
    )

    class Meta:
        ordering = ["-created"]
        indexes = [
            models.Index(fields=["-created"], name="prediction_created"),
            models.Index(fields=["predicted_label", "-created"], name="prediction_label_created"),
            models.Index(fields=["true_label", "-created"], name="prediction_truth_created"),
            models.Index(fields=["reviewed_at"], name="prediction_reviewed_at"),
            # The review queue: unreviewed rows, closest to their threshold first.
            models.Index(
                prediction_margin(),
                name="prediction_unreviewed_margin",
                condition=Q(true_label__isnull=True),
            ),
            models.Index(
                fields=["id"],
                name="prediction_review_requested",
                condition=Q(true_label__isnull=True, review_requested=True),
            ),
            models.Index(fields=["job"], name="prediction_job", condition=Q(job__isnull=False)),
            # The queue's second reviews and the conflicts page: few rows each.
            models.Index(
                fields=["reviewed_at"],
                name="prediction_second_pending",
                condition=Q(second_review=SecondReview.PENDING),
            ),
            models.Index(
                fields=["reviewed_at"],
                name="prediction_second_conflict",
                condition=Q(second_review=SecondReview.CONFLICT),
            ),
        ]
        permissions = [("resolve_conflict", "Can resolve a double-review conflict")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.text[:40]}"

    @property
    def is_disaster(self) -> bool:
        return self.predicted_label == Label.DISASTER


class LabelSuspicion(models.Model):
    """One labelled row checked by `manage.py label_issues` (or its job): a reviewed prediction
    (`prediction`) or a row of the base CSV (`base_line`), its out-of-fold P(disaster), how
    suspicious its label is and whether confident learning flags it. Every check replaces all
    rows."""

    prediction = models.OneToOneField(
        Prediction, on_delete=models.CASCADE, null=True, blank=True, related_name="suspicion"
    )
    # The physical line of the base CSV the record starts on (header: line 1); None for reviews.
    base_line = models.PositiveIntegerField(null=True, blank=True)
    # The base row's own id column, text, keyword and location ("" for reviews: the prediction
    # holds them).
    # Text fields: a base CSV's columns have no length limit.
    base_id = models.TextField(blank=True)
    text = models.TextField(blank=True)
    keyword = models.TextField(blank=True)
    location = models.TextField(blank=True)
    target = models.PositiveSmallIntegerField(help_text="The label checked: 1 disaster, 0 not.")
    probability = models.FloatField(help_text="Out-of-fold P(disaster).")
    suspicion = models.FloatField(help_text="0 to 1; higher: the label more likely wrong.")
    flagged = models.BooleanField(help_text="Confident learning says the label looks wrong.")
    data_file = models.CharField(max_length=255, help_text="The base CSV checked with it.")
    computed = models.DateTimeField()

    class Meta:
        ordering = ["-suspicion", "id"]
        indexes = [
            models.Index(
                fields=["-suspicion"],
                name="suspicion_base_flagged",
                condition=Q(prediction__isnull=True, flagged=True),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(prediction__isnull=True, base_line__isnull=False)
                | Q(prediction__isnull=False, base_line__isnull=True),
                name="predictor_suspicion_review_or_base_row",
            ),
        ]

    def __str__(self) -> str:
        where = (
            f"prediction #{self.prediction_id}" if self.prediction_id else f"line {self.base_line}"
        )
        return f"{where}: suspicion {self.suspicion:.3f}"


class ReviewKind(models.TextChoices):
    FIRST = "first", "First review"
    SECOND = "second", "Second review"
    RESOLUTION = "resolution", "Conflict resolution"
    # A label changed (or cleared) outside the double-review flow, e.g. by an admin action.
    RELABEL = "relabel", "Relabel"


class Review(models.Model):
    """One label given to a prediction: who, when, where, and whether the model's explanation
    was on screen. The prediction's `true_label` is the label that stands; these are the
    history the reviewers' agreement figures are computed from."""

    prediction = models.ForeignKey(Prediction, on_delete=models.CASCADE, related_name="reviews")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # None: the label was cleared.
    label = models.CharField(  # noqa: DJ001
        max_length=12, choices=Label.choices, null=True, blank=True
    )
    kind = models.CharField(max_length=10, choices=ReviewKind.choices)
    via = models.CharField(max_length=32, help_text="Where: review queue, API, admin action, ...")
    # True: shown before answering; False: hidden until after ("blind first"); None: unknown.
    explanation_shown = models.BooleanField(null=True, blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created", "id"]
        indexes = [
            models.Index(fields=["prediction", "created"], name="review_prediction_created"),
            models.Index(fields=["created"], name="review_created"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of #{self.prediction_id}: {self.label or 'cleared'}"


class JobKind(models.TextChoices):
    TRAINING = "training", "Training"
    CSV_SCORING = "csv_scoring", "CSV scoring"
    LABEL_ISSUES = "label_issues", "Label check"


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"

    @classmethod
    def unfinished(cls) -> list[str]:
        return [cls.QUEUED, cls.RUNNING]


class Job(models.Model):
    """Long work someone asked for (a training, a CSV file to score), run by the task worker:
    where it is (status, stage, progress), whether its worker is alive (heartbeat), and what
    came of it (result or error)."""

    kind = models.CharField(max_length=16, choices=JobKind.choices)
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    stage = models.CharField(max_length=64, blank=True)
    progress = models.PositiveSmallIntegerField(default=0, help_text="0 to 100.")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created = models.DateTimeField(default=timezone.now)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    heartbeat = models.DateTimeField(null=True, blank=True)
    params = models.JSONField(default=dict, blank=True, help_text="What was asked for.")
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    # The task queue's own record of the run (django_tasks_db's DBTaskResult id).
    task_id = models.CharField(max_length=64, blank=True)
    retry_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="retries"
    )

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [
            models.Index(fields=["requested_by", "-created"], name="job_requester_created"),
            models.Index(
                fields=["heartbeat"], name="job_running_heartbeat", condition=Q(status="running")
            ),
        ]
        constraints = [
            # One training at a time, held by the database: two requests at the same instant
            # cannot both queue one.
            models.UniqueConstraint(
                fields=["kind"],
                condition=Q(kind="training", status__in=["queued", "running"]),
                name="predictor_one_training_at_a_time",
            ),
            models.CheckConstraint(
                condition=Q(progress__lte=100), name="predictor_job_progress_at_most_100"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} job #{self.pk}"

    @property
    def is_finished(self) -> bool:
        return self.status in (JobStatus.SUCCEEDED, JobStatus.FAILED)


class JobFile(models.Model):
    """A job's file, kept in the database so that every instance and worker sharing it can read
    it: a CSV job's upload (`input`) and its answer (`result`)."""

    class Role(models.TextChoices):
        INPUT = "input", "Input"
        RESULT = "result", "Result"

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="files")
    role = models.CharField(max_length=8, choices=Role.choices)
    name = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField()
    data = models.BinaryField()
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "role"], name="predictor_one_file_per_job_role")
        ]

    def __str__(self) -> str:
        return f"{self.role} of job #{self.job_id}: {self.name}"


class ReviewerPreference(models.Model):
    """How a reviewer wants the review queue: with `blind_first`, the model's reasons stay hidden
    until they have answered (explanations pull people towards the model's verdict)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reviewer_preference"
    )
    blind_first = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"review preferences of {self.user}"
