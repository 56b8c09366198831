"""Everything that writes (predictions, reviews, training, activations), and the work that loads
models to inform a write (comparing two versions, shadow replay).

Views, the API, the admin and the management commands validate their input and call these.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.db import connections, transaction
from django.db.models import Case, QuerySet, Value, When
from django.utils import timezone

from ml.data import Dataset, read_csv, read_csv_records
from ml.drift import drift_reference
from ml.evaluate import Metrics, evaluate
from ml.gate import Comparison, compare_models
from ml.groups import evaluation_split, rows_apart_from
from ml.label_issues import LABEL_ISSUE_FOLDS, label_issues_find
from ml.model import TrainedModel
from ml.persistence import ArtifactError, save
from ml.train import train
from predictor import metrics, selectors
from predictor.active_model import active_model
from predictor.artifact_store import artifact_load, artifact_publish, artifact_verify
from predictor.errors import ModelUnavailable, NoEarlierVersion, NoEvaluationSet
from predictor.models import (
    EvaluationRow,
    EvaluationSet,
    Label,
    LabelSuspicion,
    ModelActivation,
    ModelVersion,
    Prediction,
    Review,
    ReviewerPreference,
    ReviewKind,
    SecondReview,
    Source,
)
from predictor.prediction_store import predictions_insert
from predictor.tweets import Tweet

logger = logging.getLogger(__name__)

# The evaluation slice of the base data is fixed by this seed: the same file, the same slice.
EVALUATION_SEED = 42
# What the gate can decide for a candidate, and which of those put it live.
ACTIVATING_DECISIONS = ("first version", "active version unavailable", "promoted", "forced")

# Where a long action is: (stage, percent done).
Progress = Callable[[str, int], None]


def _no_progress(stage: str, percent: int) -> None:
    """The progress of an action nobody watches."""


def prediction_create(*, tweet: Tweet, source: str) -> Prediction:
    """Classify one tweet (from `tweet_clean`) with the active model and store it.

    Raises ModelUnavailable when no model can serve.
    """
    current = active_model.get()
    probability = current.model.predict_one(tweet.text, tweet.keyword, tweet.location)
    return predictions_insert([tweet], [probability], version=current.version, source=source)[0]


def prediction_create_batch(
    *, tweets: Sequence[Tweet], source: str = Source.BATCH
) -> list[Prediction]:
    """Classify many tweets (each from `tweet_clean`) in one vectorised call and store them all
    or none, in request order."""
    current = active_model.get()
    probabilities = current.model.predict_proba(
        [t.text for t in tweets], [t.keyword for t in tweets], [t.location for t in tweets]
    )
    return predictions_insert(tweets, probabilities, version=current.version, source=source)


def prediction_relabel(
    *, prediction: Prediction, true_label: str | None, reviewer: AbstractBaseUser | None
) -> Prediction:
    """Record a reviewer's label (or clear it with None), with who and when."""
    if true_label is not None and true_label not in Label.values:
        raise ValueError(f"true_label must be one of {Label.values} or None, not {true_label!r}")
    prediction.true_label = true_label
    prediction.reviewed_by = reviewer if true_label is not None else None
    prediction.reviewed_at = timezone.now() if true_label is not None else None
    prediction.save(update_fields=["true_label", "reviewed_by", "reviewed_at"])
    return prediction


def default_training_data() -> Path:
    """TRAIN_DATA when set, else the sample data set shipped in the repository."""
    return Path(settings.TRAIN_DATA) if settings.TRAIN_DATA else settings.SAMPLE_TRAIN_DATA


def is_sample_data(path: Path) -> bool:
    return path.resolve() == settings.SAMPLE_TRAIN_DATA.resolve()


SAMPLE_DATA_WARNING = (
    "Training on the small bundled sample (data/sample_tweets.csv): a toy model. For a real one: "
    "manage.py retrain --data /path/to/train.csv (make retrain DATA=...), or set TRAIN_DATA."
)


def _next_version_name() -> str:
    """v1, v2, ...: one more than the highest number used so far."""
    numbers = [
        int(name[1:])
        for name in ModelVersion.objects.values_list("name", flat=True)
        if name[:1] == "v" and name[1:].isdigit()
    ]
    return f"v{max(numbers, default=0) + 1}"


@dataclass(frozen=True)
class Evaluation:
    """An evaluation set's rows and what names them: the identifier (a hash of the rows) and
    where they come from (`audits`: the audit predictions' ids and rows, after the base rows)."""

    identifier: str
    data: Dataset
    base_rows: int
    audit_ids: tuple[int, ...]

    @classmethod
    def of(cls, record: EvaluationSet, data: Dataset) -> Evaluation:
        audit_ids = tuple(
            record.rows.filter(prediction__isnull=False).values_list("prediction_id", flat=True)
        )
        return cls(record.identifier, data, record.base_rows, audit_ids)

    def as_dict(self) -> dict[str, object]:
        return {
            "set": self.identifier,
            "n": len(self.data),
            "base_rows": self.base_rows,
            "audit_rows": len(self.audit_ids),
        }


def evaluation_set_for(base: Dataset) -> tuple[Evaluation, Dataset]:
    """The evaluation set for this base data, and the base rows left for training; stores
    nothing (evaluation_set_store does, once a version trained against it is stored).

    The set is a grouped, stratified EVALUATION_SHARE of the base rows (fixed by its seed, so
    the same base file gives the same slice) plus every reviewed audit prediction; its
    identifier is a hash of its rows.
    """
    train_rows, evaluation_rows = evaluation_split(
        base, share=settings.EVALUATION_SHARE, seed=EVALUATION_SEED
    )
    base_part = base.subset(evaluation_rows)
    audits = selectors.audit_reviews()
    data = Dataset.from_rows(base_part.rows() + [row for _, row in audits])
    evaluation = Evaluation(data.digest(), data, len(base_part), tuple(pk for pk, _ in audits))
    return evaluation, base.subset(train_rows)


def evaluation_set_store(*, evaluation: Evaluation, training_data: str) -> EvaluationSet:
    """Store `evaluation` once per content and make it current (`created` says when it last
    became current)."""
    now = timezone.now()
    record, created = EvaluationSet.objects.get_or_create(
        identifier=evaluation.identifier,
        defaults={
            "base_rows": evaluation.base_rows,
            "audit_rows": len(evaluation.audit_ids),
            "training_data": training_data,
            "created": now,
        },
    )
    if not created:
        EvaluationSet.objects.filter(pk=record.pk).update(created=now)
        return record
    origins = [None] * evaluation.base_rows + list(evaluation.audit_ids)
    EvaluationRow.objects.bulk_create(
        [
            EvaluationRow(
                evaluation_set=record,
                text=text,
                keyword=keyword,
                location=location,
                target=target,
                prediction_id=prediction_id,
            )
            for prediction_id, (text, keyword, location, target) in zip(
                origins, evaluation.data.rows(), strict=True
            )
        ],
        batch_size=500,
    )
    return record


def _evaluation_figures(evaluation: Evaluation, metrics: Metrics) -> dict[str, object]:
    return {
        "set": evaluation.identifier,
        "n": metrics.n,
        "f1": metrics.f1,
        "precision": metrics.precision,
        "recall": metrics.recall,
        "accuracy": metrics.accuracy,
        "roc_auc": metrics.roc_auc,
    }


def model_version_evaluation_refresh(
    *, evaluation: Evaluation, loaded: dict[int, TrainedModel] | None = None
) -> None:
    """Score every version not yet scored on `evaluation` (a version whose artifact cannot be
    loaded gets None). `loaded` offers models already in memory, by version id."""
    loaded = loaded or {}
    stale = ModelVersion.objects.exclude(evaluation__set=evaluation.identifier)
    for version in stale.only("pk", "name", "artifact_path", "sha256"):
        try:
            model = loaded.get(version.pk) or artifact_load(version)
        except ArtifactError as exc:
            logger.warning("version %s not scored on the evaluation set: %s", version.name, exc)
            figures = None
        else:
            figures = _evaluation_figures(evaluation, evaluate(model, evaluation.data))
        ModelVersion.objects.filter(pk=version.pk).update(evaluation=figures)


def model_version_train(
    *,
    data_path: Path | None = None,
    include_feedback: bool = True,
    activate: bool = True,
    force_reason: str | None = None,
    seed: int = 42,
    via: str = "retrain",
    user: AbstractBaseUser | None = None,
    progress: Progress | None = None,
) -> ModelVersion:
    """Train a candidate and let the promotion gate decide whether it goes live.

    The candidate learns from the base data and the reviewed (non-audit) predictions, less the
    evaluation set and anything that is a near-copy of one of its rows. It is then scored on the
    evaluation set beside the active version, row by row (ml.gate), and activated when there is
    no active version yet, when the gate says promote, or when `force_reason` is given; with
    `activate=False` it is only stored. Either way it is kept, with the gate's report in
    `version.gate`. Afterwards the database's planner statistics are refreshed. `progress(stage,
    percent)` hears where it is (a background job shows it); `user` is who asked.

    Raises ml.data.DatasetError for unusable data; nothing is stored then.
    """
    report = progress or _no_progress
    report("reading the data", 2)
    path = data_path or default_training_data()
    if is_sample_data(path):
        logger.warning(SAMPLE_DATA_WARNING)
    base = read_csv(path)
    started = time.perf_counter()
    evaluation, base_train = evaluation_set_for(base)
    feedback = selectors.feedback_dataset() if include_feedback else Dataset.from_rows([])
    merged = base_train.merged_with(feedback)  # the feedback rows come last
    first_feedback_row = len(merged) - len(Dataset.from_rows([]).merged_with(feedback))
    kept = rows_apart_from(merged, evaluation.data)
    data = merged.subset(kept)
    data.require_trainable()
    base_rows = sum(1 for row in kept if row < first_feedback_row)

    report("training", 5)
    trained = train(
        data,
        seed=seed,
        n_jobs=os.cpu_count() or 1,
        on_fit_done=lambda done, total: report("training", 5 + 70 * done // total),
    )
    report("scoring on the evaluation set", 78)
    candidate = _evaluation_figures(evaluation, evaluate(trained, evaluation.data))
    # Drift is measured against the base rows held out for evaluation: unseen by the model, like
    # live tweets, so their share of unknown words is honest (on its own training rows every
    # word it kept is known), and without the audit rows, which are live traffic themselves.
    reference = drift_reference(trained, evaluation.data.subset(range(evaluation.base_rows)))
    report("comparing with the active version", 82)
    current = selectors.model_version_active()
    try:
        active = artifact_load(current) if current else None
    except ArtifactError as exc:
        active = exc
    gate = _gate(trained, current, active, evaluation, activate=activate, force_reason=force_reason)
    gate |= {
        "rows": {
            "base": len(base),
            "feedback": len(data) - base_rows,
            "evaluation": len(evaluation.data),
            "trained_on": len(data),
            "dropped_as_near_copies_of_evaluation_rows": len(merged) - len(data),
        }
    }
    report("storing the version", 90)
    name = _next_version_name()
    artifact = save(trained, settings.MODELS_DIR, f"{name}-{timezone.now():%Y%m%dT%H%M%S}")
    try:
        with transaction.atomic():
            evaluation_set_store(evaluation=evaluation, training_data=path.name)
            version = ModelVersion.objects.create(
                name=name,
                artifact_path=artifact.path.name,
                sha256=artifact.sha256,
                threshold=trained.threshold,
                base_rows=base_rows,
                feedback_rows=len(data) - base_rows,
                training_data=path.name,
                metrics=trained.validation.as_dict(),
                train_seconds=round(time.perf_counter() - started, 2),
                drift_reference=reference.as_dict(),
                library_versions=trained.library_versions,
                evaluation=candidate,
                gate={"version": name, **gate},
            )
            artifact_publish(version=version)
            if gate["activated"]:
                model_version_activate(version=version, user=user, via=via, reason=gate["reason"])
    except BaseException:
        artifact.path.unlink(missing_ok=True)
        raise
    # A new set: every older version is scored on it too, so their figures compare.
    report("scoring the other versions on the evaluation set", 94)
    loaded = {current.pk: active} if isinstance(active, TrainedModel) and current else {}
    model_version_evaluation_refresh(evaluation=evaluation, loaded=loaded)
    database_statistics_refresh()
    metrics.training_observe(seconds=time.perf_counter() - started)
    return version


def model_version_drift_reference_ensure(*, version: ModelVersion) -> dict | None:
    """`version.drift_reference`, computed now (and stored) for a version trained before it was
    kept: on the base rows of the current evaluation set. None when it cannot be (no evaluation
    set, or the version's artifact cannot be loaded)."""
    if version.drift_reference is not None:
        return version.drift_reference
    record = selectors.evaluation_set_current()
    if record is None or not record.base_rows:
        return None
    try:
        current = active_model.get()
        model = current.model if current.version.pk == version.pk else artifact_load(version)
    except (ModelUnavailable, ArtifactError) as exc:
        logger.warning("no drift reference for version %s: %s", version.name, exc)
        return None
    rows = selectors.evaluation_dataset(record).subset(range(record.base_rows))
    version.drift_reference = drift_reference(model, rows).as_dict()
    ModelVersion.objects.filter(pk=version.pk).update(drift_reference=version.drift_reference)
    return version.drift_reference


def model_version_training_report(version: ModelVersion) -> dict[str, object]:
    """The gate's report of a freshly trained version, with its own figures (what `retrain
    --json` prints and a training job's result holds)."""
    return {
        **version.gate,
        "version": version.name,
        "activated": version.is_active,
        "candidate": version.evaluation,
        "validation": version.metrics,
        "threshold": version.threshold,
        "train_seconds": version.train_seconds,
    }


def _gate(
    trained: TrainedModel,
    current: ModelVersion | None,
    active: TrainedModel | ArtifactError | None,
    evaluation: Evaluation,
    *,
    activate: bool,
    force_reason: str | None,
) -> dict[str, object]:
    """The gate's report for a candidate: the comparison with `current` (loaded as `active`,
    or the error that kept it from loading) and the decision."""
    report: dict[str, object] = {
        "evaluation_set": evaluation.as_dict(),
        "active_version": current.name if current else None,
        "comparison": None,
    }
    if current is None or active is None:
        decision, reason = "first version", "first version: nothing to compare with"
    elif isinstance(active, ArtifactError):
        decision = "active version unavailable"
        reason = f"the active version {current.name} cannot be loaded ({active})"
    else:
        comparison = compare_models(trained, active, evaluation.data)
        report["comparison"] = comparison.as_dict()
        decision = "promoted" if comparison.promote else "refused"
        reason = comparison.reason
    if force_reason is not None:
        decision, reason = "forced", f"forced: {force_reason} (the gate said: {reason})"
    elif not activate:
        decision, reason = "stored", f"stored, not activated; the gate said: {reason}"
    activated = decision in ACTIVATING_DECISIONS
    return report | {"decision": decision, "activated": activated, "reason": reason}


def model_version_activate(
    *,
    version: ModelVersion,
    user: AbstractBaseUser | None = None,
    via: str,
    reason: str = "",
) -> ModelVersion:
    """Make `version` the only active one, atomically, and record who, from which version, where
    (`via`: "admin", "command", ...) and why; its artifact must match its hash
    (ml.persistence.ArtifactError otherwise, and nothing changes).

    A user's activation also goes to the admin history of the version (LogEntry).
    """
    artifact_verify(version)
    now = timezone.now()
    with transaction.atomic():
        active = ModelVersion.objects.select_for_update().filter(is_active=True).first()
        if active is not None and active.pk == version.pk:
            version.is_active, version.activated_at = True, active.activated_at
            return version
        previous = active
        ModelVersion.objects.filter(is_active=True).update(is_active=False)
        ModelVersion.objects.filter(pk=version.pk).update(is_active=True, activated_at=now)
        ModelActivation.objects.create(
            version=version, previous=previous, user=user, via=via, reason=reason, created=now
        )
        if user is not None:
            was = f" (was {previous})" if previous else ""
            LogEntry.objects.log_actions(
                user_id=user.pk,
                queryset=[version],
                action_flag=CHANGE,
                change_message=f"Activated{was}.",
                single_object=True,
            )
        transaction.on_commit(active_model.invalidate)
    version.is_active, version.activated_at = True, now
    return version


def model_version_ensure_active(*, data_path: Path | None = None) -> tuple[ModelVersion, bool]:
    """The active version, training one first when there is none; (version, trained_now)."""
    version = selectors.model_version_active()
    if version is not None:
        return version, False
    return model_version_train(data_path=data_path, via="first model"), True


def model_version_evaluate(*, version: ModelVersion, data_path: Path) -> Metrics:
    """Score `version` on a labelled CSV (DatasetError, ArtifactError on bad input)."""
    data = read_csv(data_path)
    return evaluate(artifact_load(version), data)


def database_statistics_refresh(*, using: str = "default") -> bool:
    """Refresh SQLite's query-planner statistics (ANALYZE); True when it ran.

    Without them SQLite reads the review queue through the (true_label, created) index and sorts
    every unreviewed row, many times slower than through the queue's own partial index, which it
    picks once ANALYZE has run (docs/performance.md). Run after each migrate (every start) and
    each training. PostgreSQL's autovacuum keeps its own statistics.
    """
    connection = connections[using]
    if connection.vendor != "sqlite":
        return False
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return True


RELABEL_CHUNK = 500


def _label_name(label: str | None) -> str:
    return Label(label).label if label else "not reviewed"


def _review_record(
    *,
    prediction: Prediction,
    before: str | None,
    label: str | None,
    reviewer: AbstractBaseUser,
    via: str,
    kind: str,
    explanation_shown: bool | None,
    note: str = "",
) -> tuple[LogEntry, Review]:
    """The admin history entry and the Review row of one label given (unsaved, to bulk-create)."""
    return (
        LogEntry(
            user_id=reviewer.pk,
            content_type_id=ContentType.objects.get_for_model(Prediction).pk,
            object_id=str(prediction.pk),
            object_repr=str(prediction)[:200],
            action_flag=CHANGE,
            change_message=(
                f"True label: {_label_name(before)} → {_label_name(label)}{note} ({via})."
            ),
        ),
        Review(
            prediction=prediction,
            reviewer_id=reviewer.pk,
            label=label,
            kind=kind,
            via=via,
            explanation_shown=explanation_shown,
        ),
    )


def _records_save(records: Sequence[tuple[LogEntry, Review]]) -> None:
    """Save the history entries and Review rows; once committed, count each label given in the
    metrics, by whether it is the model's own."""
    LogEntry.objects.bulk_create([entry for entry, _ in records])
    Review.objects.bulk_create([review for _, review in records])
    agreed: dict[str, Counter[bool]] = {}
    for _, review in records:
        if review.label is not None:
            agrees = review.label == review.prediction.predicted_label
            agreed.setdefault(review.label, Counter())[agrees] += 1
    if agreed:
        transaction.on_commit(
            lambda: [metrics.reviews_count(label=label, agreed=n) for label, n in agreed.items()]
        )


def prediction_review(
    *,
    predictions: QuerySet[Prediction],
    true_label: str | None,
    reviewer: AbstractBaseUser,
    via: str,
    explanation_shown: bool | None = None,
    double_review: bool = False,
    rng: random.Random | None = None,
) -> int:
    """Relabel each of `predictions` through `prediction_relabel`, and record each label given:
    a Review row (its kind, `via`, `explanation_shown`) and an admin history entry (LogEntry),
    so an object's history page answers who changed its label and when.

    The one path of the admin actions, the admin change page, the review queue and the API.
    Predictions that already carry `true_label` are left alone; returns how many changed (or got
    their second review). `via` says where ("admin action", "review queue", ...).

    `double_review`: the one-item review of the queue and the API, part of double review. A
    first review is then sent back to the queue for a second reviewer with probability
    DOUBLE_REVIEW_SHARE (drawn from `rng`), and a pending item's label from anyone but its first
    reviewer is its second review: the same label makes it "agreed", another one a "conflict"
    that keeps the first label, training nothing, until a staff member resolves it
    (`prediction_conflict_resolve`). Of two second reviews given at once, one counts.
    Without it (admin actions and change page) nothing is drawn and a pending item's label is
    simply changed. Clearing a label ends any double review of the item.
    """
    if true_label is not None and true_label not in Label.values:
        raise ValueError(f"true_label must be one of {Label.values} or None, not {true_label!r}")
    second_ids: list[int] = []
    if double_review and true_label is not None:
        pending = predictions.filter(second_review=SecondReview.PENDING).exclude(
            reviewed_by=reviewer
        )
        second_ids = list(pending.order_by("pk").values_list("pk", flat=True))
    if true_label is None:
        to_change = predictions.filter(true_label__isnull=False)
    else:
        to_change = predictions.exclude(true_label=true_label)
    # Ids first, then rows in chunks: "select all" on a large changelist must not load every row.
    ids = list(to_change.exclude(pk__in=second_ids).order_by("pk").values_list("pk", flat=True))
    rng = rng or _queue_random
    changed = 0
    with transaction.atomic():
        for pk in second_ids:
            changed += _second_review_give(
                prediction_id=pk,
                true_label=true_label,
                reviewer=reviewer,
                via=via,
                explanation_shown=explanation_shown,
            )
        for start in range(0, len(ids), RELABEL_CHUNK):
            records = []
            chunk = Prediction.objects.filter(pk__in=ids[start : start + RELABEL_CHUNK])
            for prediction in chunk.order_by("pk"):
                before = prediction.true_label
                prediction_relabel(prediction=prediction, true_label=true_label, reviewer=reviewer)
                kind = ReviewKind.FIRST if before is None else ReviewKind.RELABEL
                state = prediction.second_review
                if true_label is None:
                    state = SecondReview.NONE
                elif kind == ReviewKind.FIRST and double_review and _drawn_for_second_review(rng):
                    state = SecondReview.PENDING
                if state != prediction.second_review:
                    prediction.second_review = state
                    prediction.save(update_fields=["second_review"])
                records.append(
                    _review_record(
                        prediction=prediction,
                        before=before,
                        label=true_label,
                        reviewer=reviewer,
                        via=via,
                        kind=kind,
                        explanation_shown=explanation_shown,
                    )
                )
                changed += 1
            _records_save(records)
    return changed


def _drawn_for_second_review(rng: random.Random) -> bool:
    share = settings.DOUBLE_REVIEW_SHARE
    return bool(share) and rng.random() < share


def _second_review_give(
    *,
    prediction_id: int,
    true_label: str,
    reviewer: AbstractBaseUser,
    via: str,
    explanation_shown: bool | None,
) -> int:
    """Record a second review of a pending prediction; 1 when it counted, 0 when the item was no
    longer pending for `reviewer` (another second review came first)."""
    # One conditional UPDATE is the guard: of two reviewers answering at once, the database lets
    # one change the row from pending; the other updates nothing.
    outcome = Case(
        When(true_label=true_label, then=Value(SecondReview.AGREED)),
        default=Value(SecondReview.CONFLICT),
    )
    updated = (
        Prediction.objects.filter(pk=prediction_id, second_review=SecondReview.PENDING)
        .exclude(reviewed_by=reviewer)
        .update(second_review=outcome)
    )
    if not updated:
        return 0
    prediction = Prediction.objects.get(pk=prediction_id)
    note = "; agreed" if prediction.second_review == SecondReview.AGREED else "; in conflict"
    _records_save(
        [
            _review_record(
                prediction=prediction,
                before=prediction.true_label,
                label=true_label,
                reviewer=reviewer,
                via=via,
                kind=ReviewKind.SECOND,
                explanation_shown=explanation_shown,
                note=f" (second review: {Label(true_label).label}{note})",
            )
        ]
    )
    return 1


def prediction_conflict_resolve(
    *,
    prediction: Prediction,
    true_label: str,
    resolver: AbstractBaseUser,
    via: str = "conflicts page",
) -> bool:
    """Settle a double-review conflict: `true_label` becomes the label that stands (it trains
    and evaluates again), recorded as a "resolution" Review and in the admin history. False when
    the item is not (or no longer) in conflict; nothing changes then. Who may resolve (the
    `resolve_conflict` permission) is the caller's check."""
    if true_label not in Label.values:
        raise ValueError(f"true_label must be one of {Label.values}, not {true_label!r}")
    now = timezone.now()
    with transaction.atomic():
        before = (
            Prediction.objects.filter(pk=prediction.pk).values_list("true_label", flat=True).first()
        )
        # Conditional, as a second review: of two resolutions at once, one counts.
        updated = Prediction.objects.filter(
            pk=prediction.pk, second_review=SecondReview.CONFLICT
        ).update(
            second_review=SecondReview.RESOLVED,
            true_label=true_label,
            reviewed_by=resolver,
            reviewed_at=now,
        )
        if not updated:
            return False
        prediction.refresh_from_db()
        _records_save(
            [
                _review_record(
                    prediction=prediction,
                    before=before,
                    label=true_label,
                    reviewer=resolver,
                    via=via,
                    kind=ReviewKind.RESOLUTION,
                    explanation_shown=None,
                    note=" (conflict resolved)",
                )
            ]
        )
    return True


def prediction_review_next(
    *,
    reviewer: AbstractBaseUser | None = None,
    exclude_ids: Sequence[int] = (),
    rng: random.Random | None = None,
) -> Prediction | None:
    """The review queue's next item for `reviewer`: a prediction waiting for its second review
    whose first reviewer is someone else, oldest first review first; else, with probability
    AUDIT_SHARE, a prediction drawn at random, marked as an audit item (its review then measures
    live accuracy and joins the evaluation set), else the next one by the queue's order
    (selectors.prediction_unreviewed_next)."""
    if reviewer is not None:
        second = selectors.prediction_second_review_next(reviewer=reviewer, exclude_ids=exclude_ids)
        if second is not None:
            return second
    rng = rng or _queue_random
    if settings.AUDIT_SHARE and rng.random() < settings.AUDIT_SHARE:
        drawn = selectors.prediction_unreviewed_random(exclude_ids=exclude_ids, rng=rng)
        if drawn is not None:
            if not drawn.is_audit:
                Prediction.objects.filter(pk=drawn.pk).update(is_audit=True)
                drawn.is_audit = True
            return drawn
    return selectors.prediction_unreviewed_next(exclude_ids=exclude_ids)


# Not for secrets: which prediction a reviewer sees next. Seeded per process by the OS.
_queue_random = random.Random()  # noqa: S311  # nosec B311


def prediction_review_request(*, predictions: QuerySet[Prediction]) -> int:
    """Send unreviewed `predictions` back to the front of the review queue; how many."""
    return predictions.filter(true_label__isnull=True).update(review_requested=True)


def evaluation_current() -> Evaluation:
    """The evaluation set versions were last scored on, with its rows (NoEvaluationSet when no
    version has been trained here yet)."""
    record = selectors.evaluation_set_current()
    if record is None:
        raise NoEvaluationSet("there is no evaluation set yet: train a version first")
    return Evaluation.of(record, selectors.evaluation_dataset(record))


def model_version_compare(*, candidate: ModelVersion, active: ModelVersion) -> Comparison:
    """The gate's paired comparison of two stored versions on the current evaluation set
    (ArtifactError when either cannot be loaded, NoEvaluationSet without an evaluation set)."""
    evaluation = evaluation_current()
    models = [artifact_load(v) for v in (candidate, active)]
    return compare_models(*models, evaluation.data)


def model_version_promote(
    *, version: ModelVersion, user: AbstractBaseUser, force_reason: str | None = None
) -> tuple[bool, Comparison | None]:
    """Activate `version` if the gate says promote against the active version (or anyway, with
    `force_reason`); (activated, the comparison). With no active version it is activated."""
    current = selectors.model_version_active()
    if current is None or current.pk == version.pk:
        if current is None:
            model_version_activate(version=version, user=user, via="admin", reason="promoted")
        return True, None
    comparison = model_version_compare(candidate=version, active=current)
    if force_reason is not None:
        reason = f"forced: {force_reason} (the gate said: {comparison.reason})"
    elif comparison.promote:
        reason = comparison.reason
    else:
        return False, comparison
    model_version_activate(version=version, user=user, via="admin", reason=reason)
    return True, comparison


def model_version_rollback(*, user: AbstractBaseUser | None, via: str) -> ModelVersion:
    """Activate the version the active one replaced (NoEarlierVersion when there is none)."""
    target = selectors.model_version_rollback_target()
    if target is None:
        raise NoEarlierVersion("there is no earlier version to roll back to")
    return model_version_activate(version=target, user=user, via=via, reason="rollback")


@dataclass(frozen=True)
class ReplayFlip:
    """A stored prediction whose label the replayed version would change."""

    prediction_id: int
    text: str
    old_label: str
    new_label: str
    old_probability: float
    new_probability: float
    true_label: str | None


@dataclass(frozen=True)
class Replay:
    """The last `n` stored predictions scored again by `version`: how many labels flip, the 2-by-2
    table of old against new labels, and, on the reviewed ones, who was right."""

    version: ModelVersion
    n: int
    flips: int
    table: dict[str, dict[str, int]]
    reviewed: int
    wins: int
    losses: int
    top_flips: list[ReplayFlip]
    flip_ids: list[int]

    @property
    def flip_rate(self) -> float | None:
        return self.flips / self.n if self.n else None

    def as_dict(self) -> dict[str, object]:
        return {
            "version": self.version.name,
            "n": self.n,
            "flips": self.flips,
            "flip_rate": self.flip_rate,
            "table": self.table,
            "reviewed": self.reviewed,
            "wins": self.wins,
            "losses": self.losses,
            "top_flips": [asdict(flip) for flip in self.top_flips],
        }


def prediction_replay(*, version: ModelVersion, last: int = 1000, top: int = 20) -> Replay:
    """Score the last `last` stored predictions again with `version` (shadow replay: the stored
    history is the traffic, nothing extra is deployed). Reads only; ArtifactError when the
    version cannot be loaded. `wins` are reviewed rows it gets right that the stored prediction
    got wrong, `losses` the reverse."""
    model = artifact_load(version)
    rows = list(
        Prediction.objects.order_by("-created", "-id").values_list(
            "id", "text", "keyword", "location", "predicted_label", "probability", "true_label"
        )[:last]
    )
    if rows:
        ids, texts, keywords, locations, old_labels, old_probabilities, truths = zip(
            *rows, strict=True
        )
        probabilities = model.predict_proba(texts, keywords, locations)
    else:
        ids = texts = old_labels = old_probabilities = truths = ()
        probabilities = []
    new_labels = [Label.for_probability(float(p), version.threshold) for p in probabilities]
    table = {old: {new: 0 for new in Label.values} for old in Label.values}
    flips: list[ReplayFlip] = []
    wins = losses = reviewed = 0
    for pk, text, old, old_p, new, new_p, truth in zip(
        ids, texts, old_labels, old_probabilities, new_labels, probabilities, truths, strict=True
    ):
        table[old][new] += 1
        if truth is not None:
            reviewed += 1
            wins += new == truth != old
            losses += old == truth != new
        if new != old:
            flips.append(ReplayFlip(pk, text, old, new, old_p, float(new_p), truth))
    flips.sort(key=lambda flip: abs(flip.new_probability - flip.old_probability), reverse=True)
    return Replay(
        version=version,
        n=len(rows),
        flips=len(flips),
        table=table,
        reviewed=reviewed,
        wins=wins,
        losses=losses,
        top_flips=flips[:top],
        flip_ids=sorted(flip.prediction_id for flip in flips),
    )


def reviewer_preference_update(*, user: AbstractBaseUser, blind_first: bool) -> ReviewerPreference:
    """Record whether `user` reviews without the model's reasons until they have answered."""
    preference, _ = ReviewerPreference.objects.update_or_create(
        user=user, defaults={"blind_first": blind_first}
    )
    return preference


@dataclass(frozen=True)
class LabelIssuesReport:
    """What a label check found: rows checked and flagged, base and reviewed, the per-class
    thresholds of confident learning, and how long it took."""

    data_file: str
    folds: int
    base_rows: int
    reviewed_rows: int
    flagged_base: int
    flagged_reviewed: int
    thresholds: tuple[float, float]
    seconds: float
    computed: str

    @property
    def rows(self) -> int:
        return self.base_rows + self.reviewed_rows

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "rows": self.rows, "thresholds": list(self.thresholds)}


def label_issues_compute(
    *,
    data_path: Path | None = None,
    folds: int = LABEL_ISSUE_FOLDS,
    seed: int = 42,
    progress: Progress | None = None,
) -> LabelIssuesReport:
    """Check the labels of the base data (`data_path`, default TRAIN_DATA or the sample) and of
    every reviewed prediction (selectors.label_check_reviews) with out-of-fold probabilities of
    the product's pipeline (ml.label_issues), and store one LabelSuspicion per row, replacing
    the last check's rows in one transaction.

    Raises ml.data.DatasetError for a file that cannot be read or rows too few to fit on,
    ValueError for fewer than 2 folds; nothing changes then.
    """
    report = progress or _no_progress
    report("reading the data", 2)
    path = data_path or default_training_data()
    started = time.perf_counter()
    records = read_csv_records(path)
    reviews = selectors.label_check_reviews()
    data = Dataset.from_rows(records.data.rows() + [row for _, row in reviews])
    report("checking the labels", 5)
    issues = label_issues_find(
        data,
        folds=folds,
        seed=seed,
        n_jobs=os.cpu_count() or 1,
        on_fit_done=lambda done, total: report("checking the labels", 5 + 85 * done // total),
    )
    report("storing the results", 92)
    computed = timezone.now()
    base_count = len(records.data)
    # Where each row of `data` came from: the base CSV's rows (with their text, a review's is
    # its prediction's and is not stored twice), then the reviews.
    origins = [
        {
            "base_line": line,
            "base_id": base_id,
            "text": text,
            "keyword": keyword,
            "location": location,
        }
        for line, base_id, (text, keyword, location, _) in zip(
            records.lines, records.ids, records.data.rows(), strict=True
        )
    ]
    origins += [{"prediction_id": pk} for pk, _ in reviews]
    figures = zip(
        origins,
        data.target,
        issues.probability.tolist(),
        issues.suspicion.tolist(),
        issues.flagged.tolist(),
        strict=True,
    )
    rows = [
        LabelSuspicion(
            **origin,
            target=target,
            probability=probability,
            suspicion=suspicion,
            flagged=flagged,
            data_file=path.name,
            computed=computed,
        )
        for origin, target, probability, suspicion, flagged in figures
    ]
    with transaction.atomic():
        # A review deleted or cleared while the check ran is left out, not pointed at.
        still_reviewed = set(selectors.label_check_review_list().values_list("pk", flat=True))
        LabelSuspicion.objects.all().delete()
        LabelSuspicion.objects.bulk_create(
            [
                row
                for row in rows
                if row.prediction_id is None or row.prediction_id in still_reviewed
            ],
            batch_size=1000,
        )
    flagged_base = int(issues.flagged[:base_count].sum())
    return LabelIssuesReport(
        data_file=path.name,
        folds=folds,
        base_rows=base_count,
        reviewed_rows=len(reviews),
        flagged_base=flagged_base,
        flagged_reviewed=int(issues.flagged.sum()) - flagged_base,
        thresholds=issues.thresholds,
        seconds=round(time.perf_counter() - started, 2),
        computed=computed.isoformat(),
    )
