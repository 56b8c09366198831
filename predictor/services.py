"""Everything that writes: predictions, relabels, training and activating model versions.

Views, the API, the admin and the management commands validate their input and call these.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path

from django.conf import settings
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.db import connections, transaction
from django.db.models import QuerySet
from django.utils import timezone

from ml.data import Dataset, read_csv
from ml.evaluate import Metrics, evaluate
from ml.persistence import load, save
from ml.train import train
from predictor import selectors
from predictor.active_model import active_model
from predictor.artifact_store import artifact_local_file, artifact_publish, artifact_verify
from predictor.models import Label, ModelActivation, ModelVersion, Prediction, Source
from predictor.prediction_store import predictions_insert
from predictor.tweets import Tweet

logger = logging.getLogger(__name__)


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


def model_version_train(
    *,
    data_path: Path | None = None,
    include_feedback: bool = True,
    activate: bool = True,
    seed: int = 42,
    via: str = "retrain",
) -> ModelVersion:
    """Train on the base data plus reviewed predictions, store the artifact, record the version,
    activate it if asked, and refresh the database's planner statistics.

    Raises ml.data.DatasetError for unusable data; nothing is stored then.
    """
    path = data_path or default_training_data()
    if is_sample_data(path):
        logger.warning(SAMPLE_DATA_WARNING)
    base = read_csv(path)
    feedback = selectors.feedback_dataset() if include_feedback else Dataset.from_rows([])
    feedback_rows = len(Dataset.from_rows([]).merged_with(feedback))
    data = base.merged_with(feedback)
    data.require_trainable()

    started = time.perf_counter()
    trained = train(data, seed=seed, n_jobs=os.cpu_count() or 1)
    name = _next_version_name()
    artifact = save(trained, settings.MODELS_DIR, f"{name}-{timezone.now():%Y%m%dT%H%M%S}")
    try:
        with transaction.atomic():
            version = ModelVersion.objects.create(
                name=name,
                artifact_path=artifact.path.name,
                sha256=artifact.sha256,
                threshold=trained.threshold,
                base_rows=len(data) - feedback_rows,
                feedback_rows=feedback_rows,
                training_data=path.name,
                metrics=trained.validation.as_dict(),
                train_seconds=round(time.perf_counter() - started, 2),
                library_versions=trained.library_versions,
            )
            artifact_publish(version=version)
            if activate:
                model_version_activate(version=version, via=via)
    except BaseException:
        artifact.path.unlink(missing_ok=True)
        raise
    database_statistics_refresh()
    return version


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
    return evaluate(load(artifact_local_file(version), version.sha256), data)


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


def prediction_review(
    *,
    predictions: QuerySet[Prediction],
    true_label: str | None,
    reviewer: AbstractBaseUser,
    via: str,
) -> int:
    """Relabel each of `predictions` through `prediction_relabel` and write each change to the
    admin history (LogEntry), so an object's history page answers who changed its label and when.

    The one path of the admin actions, the admin change page and the review queue. Predictions
    that already carry `true_label` are left alone; returns how many changed. `via` says where the
    change was made ("admin action", "review queue", ...) in the history message.
    """
    if true_label is not None and true_label not in Label.values:
        raise ValueError(f"true_label must be one of {Label.values} or None, not {true_label!r}")
    if true_label is None:
        to_change = predictions.filter(true_label__isnull=False)
    else:
        to_change = predictions.exclude(true_label=true_label)
    # Ids first, then rows in chunks: "select all" on a large changelist must not load every row.
    ids = list(to_change.order_by("pk").values_list("pk", flat=True))
    content_type = ContentType.objects.get_for_model(Prediction)
    with transaction.atomic():
        for start in range(0, len(ids), RELABEL_CHUNK):
            entries = []
            for prediction in Prediction.objects.filter(pk__in=ids[start : start + RELABEL_CHUNK]):
                before = prediction.true_label
                prediction_relabel(prediction=prediction, true_label=true_label, reviewer=reviewer)
                entries.append(
                    LogEntry(
                        user_id=reviewer.pk,
                        content_type_id=content_type.pk,
                        object_id=str(prediction.pk),
                        object_repr=str(prediction)[:200],
                        action_flag=CHANGE,
                        change_message=(
                            f"True label: {_label_name(before)} → {_label_name(true_label)} "
                            f"({via})."
                        ),
                    )
                )
            LogEntry.objects.bulk_create(entries)
    return len(ids)
