"""Everything that reads: model versions, stored predictions and background jobs."""

from __future__ import annotations

import itertools
import math
import random
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import (
    Avg,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    FloatField,
    IntegerField,
    Max,
    Min,
    Q,
    QuerySet,
    Value,
)
from django.db.models.functions import Cast, Floor, Least, NullIf, TruncDate
from django.utils import timezone

from ml.agreement import cohen_kappa
from ml.data import Dataset
from ml.explain import TOP_TERMS, Explanation, explain
from ml.groups import group_key
from ml.persistence import ArtifactError
from predictor.errors import ExplanationUnavailable
from predictor.models import (
    EvaluationRow,
    EvaluationSet,
    Job,
    JobFile,
    JobKind,
    JobStatus,
    Label,
    LabelSuspicion,
    ModelActivation,
    ModelVersion,
    Prediction,
    Review,
    ReviewerPreference,
    ReviewKind,
    SecondReview,
    label_is_truth,
    prediction_margin,
)
from predictor.version_models import version_models


def model_version_active() -> ModelVersion | None:
    """The active model version, or None."""
    return ModelVersion.objects.filter(is_active=True).first()


def model_version_get(*, name: str) -> ModelVersion:
    """The version called `name` (ModelVersion.DoesNotExist otherwise)."""
    return ModelVersion.objects.get(name=name)


def feedback_dataset() -> Dataset:
    """Every reviewed prediction but the audit sample's and those in a double-review conflict,
    as training rows, oldest review first (so the latest wins)."""
    rows = (
        Prediction.objects.filter(label_is_truth(), is_audit=False)
        .order_by("reviewed_at", "id")
        .values_list("text", "keyword", "location", "true_label")
    )
    return Dataset.from_rows(
        (text, keyword, location, Label.to_target(label)) for text, keyword, location, label in rows
    )


def audit_reviews() -> list[tuple[int, tuple[str, str, str, int]]]:
    """The reviewed audit predictions (not in a double-review conflict), as (id, (text, keyword,
    location, target)), by id: rows of the evaluation set, never of the training data."""
    rows = (
        Prediction.objects.filter(label_is_truth(), is_audit=True)
        .order_by("id")
        .values_list("id", "text", "keyword", "location", "true_label")
    )
    return [
        (pk, (text, keyword, location, Label.to_target(label)))
        for pk, text, keyword, location, label in rows
    ]


def evaluation_set_current() -> EvaluationSet | None:
    """The evaluation set the versions were last scored on (the last one made current)."""
    return EvaluationSet.objects.order_by("-created", "-id").first()


def model_activation_last() -> ModelActivation | None:
    """The latest activation (or rollback)."""
    return ModelActivation.objects.order_by("-created", "-id").first()


def model_version_rollback_target() -> ModelVersion | None:
    """The version a rollback would re-activate: the one the latest activation replaced."""
    last = model_activation_last()
    return last.previous if last else None


def model_activation_list(*, since: datetime) -> QuerySet[ModelActivation]:
    """Activations and rollbacks since `since`, oldest first, with their versions and users."""
    return (
        ModelActivation.objects.filter(created__gte=since)
        .select_related("version", "previous", "user")
        .order_by("created", "id")
    )


def model_version_active_at(moment: datetime) -> ModelVersion | None:
    """The version that was active at `moment`, from the activation history (None before the
    first activation)."""
    activation = (
        ModelActivation.objects.filter(created__lte=moment)
        .select_related("version")
        .order_by("-created", "-id")
        .first()
    )
    return activation.version if activation else None


def prediction_list() -> QuerySet[Prediction]:
    """Stored predictions, newest first, with what their list views show joined in."""
    return Prediction.objects.select_related("model_version", "reviewed_by", "suspicion").order_by(
        "-created", "-id"
    )


def prediction_order_by_suspicion(
    queryset: QuerySet[Prediction], *, descending: bool = True
) -> QuerySet[Prediction]:
    """By the last label check's suspicion (most suspicious first, or least with `descending`
    False); rows it did not check last either way, then by id."""
    suspicion = F("suspicion__suspicion")
    first = suspicion.desc(nulls_last=True) if descending else suspicion.asc(nulls_last=True)
    return queryset.order_by(first, "id")


def prediction_order_by_uncertainty(queryset: QuerySet[Prediction]) -> QuerySet[Prediction]:
    """Closest to the decision threshold first (the expression the review-queue index holds)."""
    return queryset.order_by(prediction_margin(), "id")


def model_version_list() -> QuerySet[ModelVersion]:
    """Every model version, newest first."""
    return ModelVersion.objects.order_by("-created", "-id")


# --- Review: the admin, the review queue, the dashboard and the export (issue #5) ---------------


def prediction_unreviewed_next(*, exclude_ids: Iterable[int] = ()) -> Prediction | None:
    """The next unreviewed prediction, leaving out `exclude_ids` (skipped): one sent back for
    review first (oldest first), else the one closest to its threshold."""
    queryset = (
        Prediction.objects.filter(true_label__isnull=True)
        .exclude(pk__in=list(exclude_ids))
        .select_related("model_version", "reviewed_by")
    )
    requested = queryset.filter(review_requested=True).order_by("id").first()
    return requested or prediction_order_by_uncertainty(queryset).first()


def prediction_unreviewed_random(
    *, exclude_ids: Iterable[int] = (), rng: random.Random
) -> Prediction | None:
    """An unreviewed prediction drawn at random: the first unreviewed id at or after a random
    point between the lowest and highest id (wrapping round), so the draw costs two index
    seeks, not a scan. Rows that follow a run of reviewed ones are a little more likely."""
    queryset = (
        Prediction.objects.filter(true_label__isnull=True)
        .exclude(pk__in=list(exclude_ids))
        .select_related("model_version", "reviewed_by")
    )
    bounds = Prediction.objects.aggregate(low=Min("id"), high=Max("id"))
    if bounds["low"] is None:
        return None
    point = rng.randint(bounds["low"], bounds["high"])
    return (
        queryset.filter(pk__gte=point).order_by("id").first()
        or queryset.filter(pk__lt=point).order_by("id").first()
    )


def prediction_second_review_next(
    *, reviewer: AbstractBaseUser, exclude_ids: Iterable[int] = ()
) -> Prediction | None:
    """The oldest-reviewed prediction waiting for a second review that `reviewer` did not
    review first, leaving out `exclude_ids` (skipped)."""
    return (
        Prediction.objects.filter(second_review=SecondReview.PENDING)
        .exclude(reviewed_by=reviewer)
        .exclude(pk__in=list(exclude_ids))
        .select_related("model_version")
        .order_by("reviewed_at", "id")
        .first()
    )


@dataclass(frozen=True)
class AuditEstimate:
    """Live accuracy estimated from the audit sample's reviews: the share of randomly drawn
    predictions whose label the reviewer confirmed, with a 95% Wilson interval."""

    reviewed: int
    agreed: int

    @property
    def accuracy(self) -> float | None:
        return self.agreed / self.reviewed if self.reviewed else None

    @property
    def interval(self) -> tuple[float, float] | None:
        if not self.reviewed:
            return None
        n, p, z = self.reviewed, self.agreed / self.reviewed, 1.959963984540054
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        return max(0.0, centre - half), min(1.0, centre + half)


def prediction_audit_estimate(*, since: datetime | None = None) -> AuditEstimate:
    """The audit sample's reviews (of predictions made since `since`) as an AuditEstimate;
    one query."""
    queryset = Prediction.objects.filter(label_is_truth(), is_audit=True)
    if since is not None:
        queryset = queryset.filter(created__gte=since)
    figures = queryset.aggregate(
        reviewed=Count("pk"), agreed=Count("pk", filter=Q(true_label=F("predicted_label")))
    )
    return AuditEstimate(reviewed=figures["reviewed"], agreed=figures["agreed"])


def evaluation_dataset(evaluation_set: EvaluationSet) -> Dataset:
    """The rows of a stored evaluation set."""
    rows = EvaluationRow.objects.filter(evaluation_set=evaluation_set).order_by("id")
    return Dataset.from_rows(rows.values_list("text", "keyword", "location", "target"))


@dataclass(frozen=True)
class ReviewProgress:
    reviewed_today_by_you: int
    reviewed_today: int
    unreviewed: int


def local_day_start(day: date) -> datetime:
    """Midnight at the start of `day` in the current time zone."""
    return timezone.make_aware(datetime.combine(day, time.min))


def prediction_review_progress(*, reviewer: AbstractBaseUser) -> ReviewProgress:
    """How many labels were given today (local time zone), by `reviewer` and in all, and how many
    predictions still wait for one; one query."""
    today = local_day_start(timezone.localdate())
    reviewed_today = Q(true_label__isnull=False, reviewed_at__gte=today)
    figures = Prediction.objects.aggregate(
        mine=Count("pk", filter=reviewed_today & Q(reviewed_by=reviewer)),
        everyone=Count("pk", filter=reviewed_today),
        unreviewed=Count("pk", filter=Q(true_label__isnull=True)),
    )
    return ReviewProgress(
        reviewed_today_by_you=figures["mine"],
        reviewed_today=figures["everyone"],
        unreviewed=figures["unreviewed"],
    )


def prediction_unreviewed_count() -> int:
    """How many predictions wait for a reviewer's label."""
    return Prediction.objects.filter(true_label__isnull=True).count()


def prediction_reviewed_since_active_count() -> tuple[ModelVersion | None, int]:
    """The active version and how many reviewer labels are newer than it (a cue to retrain)."""
    active = model_version_active()
    if active is None:
        return None, 0
    count = Prediction.objects.filter(label_is_truth(), reviewed_at__gt=active.created).count()
    return active, count


def model_version_list_with_agreement() -> QuerySet[ModelVersion]:
    """Every version with `reviewed_count`, `agreed_count` and `live_agreement` (the share of its
    reviewed predictions whose predicted label is the reviewer's; None when none is reviewed)."""
    reviewed = label_is_truth("predictions__")
    agreed = reviewed & Q(predictions__true_label=F("predictions__predicted_label"))
    return model_version_list().annotate(
        reviewed_count=Count("predictions", filter=reviewed),
        agreed_count=Count("predictions", filter=agreed),
        live_agreement=ExpressionWrapper(
            Cast("agreed_count", FloatField()) / NullIf("reviewed_count", 0),
            output_field=FloatField(),
        ),
    )


# The training-data format (ml.data.read_csv reads it back), then the optional extra columns.
EXPORT_COLUMNS = ("id", "keyword", "location", "text", "target")
EXPORT_PREDICTION_COLUMNS = ("predicted_target", "probability", "model_version", "reviewed")


def prediction_export_list(
    *, reviewed_only: bool = False, since: datetime | None = None
) -> QuerySet[Prediction]:
    """Predictions to export, oldest first: only reviewed ones, and only from `since`, if asked."""
    queryset = Prediction.objects.order_by("created", "id")
    if reviewed_only:
        queryset = queryset.filter(true_label__isnull=False)
    if since is not None:
        queryset = queryset.filter(created__gte=since)
    return queryset


def prediction_export_rows(
    *, predictions: QuerySet[Prediction], with_prediction: bool = False
) -> Iterator[tuple[object, ...]]:
    """The header, then one row per prediction, streamed from the database in chunks.

    `target` is the reviewer's label when there is one, else the model's predicted label (1 =
    disaster); with `with_prediction`, the model's own target (`predicted_target`), its
    probability, the model version and whether a reviewer labelled the row (1/0) follow.
    """
    yield EXPORT_COLUMNS + (EXPORT_PREDICTION_COLUMNS if with_prediction else ())
    rows = predictions.values_list(
        "id",
        "keyword",
        "location",
        "text",
        "true_label",
        "predicted_label",
        "probability",
        "model_version__name",
    )
    for pk, keyword, location, text, true_label, predicted, probability, version in rows.iterator(
        chunk_size=2000
    ):
        row = (pk, keyword, location, text, Label.to_target(true_label or predicted))
        if with_prediction:
            row += (
                Label.to_target(predicted),
                f"{probability:.6f}",
                version,
                int(bool(true_label)),
            )
        yield row


@dataclass(frozen=True)
class ReviewFigures:
    """Counts over a set of predictions, and the shares the dashboard shows (None when empty)."""

    predictions: int
    disaster: int
    reviewed: int
    agreed: int
    true_positives: int
    false_positives: int
    false_negatives: int

    @staticmethod
    def _share(part: int, whole: int) -> float | None:
        return part / whole if whole else None

    @property
    def disaster_share(self) -> float | None:
        return self._share(self.disaster, self.predictions)

    @property
    def reviewed_share(self) -> float | None:
        return self._share(self.reviewed, self.predictions)

    @property
    def agreement(self) -> float | None:
        return self._share(self.agreed, self.reviewed)

    @property
    def precision(self) -> float | None:
        """Of the reviewed rows the model called a disaster, the share reviewers agreed with."""
        return self._share(self.true_positives, self.true_positives + self.false_positives)

    @property
    def recall(self) -> float | None:
        """Of the reviewed rows reviewers called a disaster, the share the model caught."""
        return self._share(self.true_positives, self.true_positives + self.false_negatives)


def _review_counts(prefix: str = "") -> dict[str, Count]:
    """Count expressions for ReviewFigures over predictions (`prefix` reaches them via a join)."""

    def q(**lookups: object) -> Q:
        return Q(**{f"{prefix}{name}": value for name, value in lookups.items()})

    # A label in a double-review conflict is no one's truth yet: neither agreement nor not.
    reviewed = label_is_truth(prefix)
    said_disaster = q(predicted_label=Label.DISASTER)
    truly_disaster = reviewed & q(true_label=Label.DISASTER)
    pk = f"{prefix}pk" if prefix else "pk"
    return {
        "predictions": Count(pk),
        "disaster": Count(pk, filter=said_disaster),
        "reviewed": Count(pk, filter=reviewed),
        "agreed": Count(pk, filter=reviewed & q(true_label=F(f"{prefix}predicted_label"))),
        "true_positives": Count(pk, filter=said_disaster & truly_disaster),
        "false_positives": Count(
            pk, filter=said_disaster & reviewed & q(true_label=Label.NOT_DISASTER)
        ),
        "false_negatives": Count(pk, filter=~said_disaster & truly_disaster),
    }


def prediction_review_figures(*, since: datetime) -> ReviewFigures:
    """ReviewFigures of every prediction made since `since`; one query."""
    return ReviewFigures(
        **Prediction.objects.filter(created__gte=since).aggregate(**_review_counts())
    )


def model_version_review_figures(*, since: datetime) -> list[tuple[ModelVersion, ReviewFigures]]:
    """Each version that made predictions since `since`, newest first, with their ReviewFigures;
    one grouped query."""
    versions = (
        ModelVersion.objects.filter(predictions__created__gte=since)
        .annotate(
            **{f"figure_{name}": count for name, count in _review_counts("predictions__").items()}
        )
        .order_by("-created", "-id")
    )
    names = list(_review_counts())
    return [
        (version, ReviewFigures(**{name: getattr(version, f"figure_{name}") for name in names}))
        for version in versions
    ]


# --- Double review and the reviewers' agreement (issue #17) -----------------------------------


def prediction_double_review_counts() -> dict[str, int]:
    """How many predictions wait for a second review (`pending`) and how many are in conflict
    (`conflicts`), now; one query."""
    return Prediction.objects.aggregate(
        pending=Count("pk", filter=Q(second_review=SecondReview.PENDING)),
        conflicts=Count("pk", filter=Q(second_review=SecondReview.CONFLICT)),
    )


@dataclass(frozen=True)
class Conflict:
    """A prediction in conflict: the label it was first given (standing until resolved) and the
    second review that disagreed, each a Review with its reviewer."""

    prediction: Prediction
    first: Review | None
    second: Review | None


def prediction_conflict_list(*, limit: int = 200) -> list[Conflict]:
    """The predictions in conflict, oldest first review first (at most `limit`), with both
    reviews; two queries."""
    predictions = list(
        Prediction.objects.filter(second_review=SecondReview.CONFLICT)
        .select_related("model_version")
        .order_by("reviewed_at", "id")[:limit]
    )
    reviews = Review.objects.filter(prediction__in=[p.pk for p in predictions]).select_related(
        "reviewer"
    )
    standing: dict[int, Review] = {}
    compared: dict[int, tuple[Review | None, Review]] = {}
    # In order: a second review was compared with the latest first review (or relabel) before it.
    for review in reviews.order_by("created", "id"):
        if review.kind == ReviewKind.SECOND:
            compared[review.prediction_id] = (standing.get(review.prediction_id), review)
        elif review.kind in (ReviewKind.FIRST, ReviewKind.RELABEL):
            standing[review.prediction_id] = review
    return [Conflict(p, *compared.get(p.pk, (None, None))) for p in predictions]


@dataclass(frozen=True)
class Agreement:
    """`agreed` of `n` paired labels were the same."""

    n: int = 0
    agreed: int = 0

    @property
    def share(self) -> float | None:
        return self.agreed / self.n if self.n else None

    def __add__(self, other: Agreement) -> Agreement:
        return Agreement(self.n + other.n, self.agreed + other.agreed)


@dataclass(frozen=True)
class PairAgreement:
    """Two reviewers' labels of the items one reviewed first and the other second: how often
    they agreed, and Cohen's kappa (None when undefined)."""

    reviewers: tuple[str, str]
    agreement: Agreement
    kappa: float | None


def review_pair_agreement(*, since: datetime) -> list[PairAgreement]:
    """Per unordered pair of reviewers, over the second reviews given since `since`: each paired
    with the label it was compared with (the latest first review or relabel before it), and
    Cohen's kappa of the pair (sklearn's), by reviewer names. Reviews by deleted users drop out."""
    doubled = Review.objects.filter(kind=ReviewKind.SECOND, created__gte=since).values(
        "prediction_id"
    )
    rows = (
        Review.objects.filter(prediction_id__in=doubled)
        .order_by("prediction_id", "created", "id")
        .values_list(
            "prediction_id", "kind", "reviewer_id", "reviewer__username", "label", "created"
        )
    )
    # (lower id, higher id) -> names, labels by the lower id's reviewer, by the higher one's.
    pairs: dict[tuple[int, int], tuple[tuple[str, str], list[str], list[str]]] = {}
    for _, reviews in itertools.groupby(rows, key=lambda row: row[0]):
        standing = None
        for _, kind, reviewer_id, name, label, created in reviews:
            if kind in (ReviewKind.FIRST, ReviewKind.RELABEL):
                standing = (reviewer_id, name, label) if reviewer_id and label else None
            elif kind == ReviewKind.SECOND and standing and reviewer_id and created >= since:
                (a, a_name, a_label), (b, b_name, b_label) = sorted(
                    [standing, (reviewer_id, name, label)], key=lambda rater: rater[0]
                )
                _, first, second = pairs.setdefault((a, b), ((a_name, b_name), [], []))
                first.append(a_label)
                second.append(b_label)
    return sorted(
        (
            PairAgreement(
                reviewers=names,
                agreement=Agreement(
                    len(first), sum(x == y for x, y in zip(first, second, strict=True))
                ),
                kappa=cohen_kappa(first, second, Label.values),
            )
            for names, first, second in pairs.values()
        ),
        key=lambda pair: pair.reviewers,
    )


@dataclass(frozen=True)
class ReviewerAgreement:
    """One reviewer's (or, with `reviewer` None, every reviewer's) agreement with the
    evaluation set, by whether the model's explanation was shown before the answer."""

    reviewer: str | None
    shown: Agreement = field(default_factory=Agreement)
    blind: Agreement = field(default_factory=Agreement)
    unknown: Agreement = field(default_factory=Agreement)

    @property
    def total(self) -> Agreement:
        return self.shown + self.blind + self.unknown


def _evaluation_targets(evaluation_set: EvaluationSet) -> dict[str, int]:
    """The base rows' targets by the near-duplicate key of their text; a key whose copies carry
    both targets (the base data has such) says nothing and is left out."""
    targets: dict[str, set[int]] = defaultdict(set)
    rows = EvaluationRow.objects.filter(evaluation_set=evaluation_set, prediction__isnull=True)
    for text, target in rows.values_list("text", "target").iterator(chunk_size=2000):
        key = group_key(text)
        if key:
            targets[key].add(target)
    return {key: next(iter(found)) for key, found in targets.items() if len(found) == 1}


def reviewer_evaluation_agreement(
    *, since: datetime, evaluation_set: EvaluationSet | None
) -> list[ReviewerAgreement]:
    """Per reviewer, by name, then every reviewer's together (`reviewer` None, last): of their
    labels given since `since` to predictions whose text is a near-copy (same ml.groups
    group_key) of a base row of the current evaluation set, how many give that row's target,
    split by explanation shown / hidden until after the answer ("blind first") / unknown.
    `evaluation_set`: the current one (evaluation_set_current); empty without one."""
    if evaluation_set is None:
        return []
    targets = _evaluation_targets(evaluation_set)
    reviews = Review.objects.filter(
        created__gte=since, label__isnull=False, reviewer__isnull=False
    ).values_list("reviewer__username", "explanation_shown", "label", "prediction__text")
    counts: dict[str | None, dict[bool | None, list[int]]] = {}
    setting = {True: "shown", False: "blind", None: "unknown"}
    for name, shown, label, text in reviews.iterator(chunk_size=2000):
        target = targets.get(group_key(text))
        if target is None:
            continue
        for who in (name, None):
            n_agreed = counts.setdefault(who, {}).setdefault(shown, [0, 0])
            n_agreed[0] += 1
            n_agreed[1] += Label.to_target(label) == target
    return [
        ReviewerAgreement(
            reviewer=who,
            **{setting[shown]: Agreement(*n_agreed) for shown, n_agreed in by_setting.items()},
        )
        for who, by_setting in sorted(
            counts.items(), key=lambda item: (item[0] is None, item[0] or "")
        )
    ]


def prediction_daily_counts(*, since: datetime) -> list[dict[str, object]]:
    """Per local day since `since`, oldest first, including days without predictions: `day`,
    `predictions`, `disaster`, `reviewed`."""
    rows = (
        Prediction.objects.filter(created__gte=since)
        .annotate(day=TruncDate("created"))
        .values("day")
        .annotate(
            predictions=Count("pk"),
            disaster=Count("pk", filter=Q(predicted_label=Label.DISASTER)),
            reviewed=Count("pk", filter=Q(true_label__isnull=False)),
        )
        .order_by("day")
    )
    by_day = {row["day"]: row for row in rows}
    first, last = timezone.localdate(since), timezone.localdate()
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    empty = {"predictions": 0, "disaster": 0, "reviewed": 0}
    return [{**empty, **by_day.get(day, {}), "day": day} for day in days]


def prediction_probability_histogram(*, since: datetime, bins: int = 10) -> list[int]:
    """How many predictions since `since` fall in each of `bins` equal probability bins (the
    last bin includes 1.0)."""
    bin_of = Least(Floor(F("probability") * bins), Value(bins - 1), output_field=IntegerField())
    rows = (
        Prediction.objects.filter(created__gte=since)
        .annotate(bin=Cast(bin_of, IntegerField()))
        .values("bin")
        .annotate(n=Count("pk"))
        .order_by()
    )
    counts = [0] * bins
    for row in rows:
        counts[max(0, min(bins - 1, int(row["bin"])))] += row["n"]
    return counts


def _period_starts(first: datetime, last: datetime, kind: str) -> list[datetime]:
    """Local starts of each year, month or day from the one holding `first` to the one after
    `last`'s (so consecutive pairs are the periods' bounds)."""
    zone = timezone.get_current_timezone()
    first, last = timezone.localtime(first, zone), timezone.localtime(last, zone)
    year, month, day = first.year, first.month, first.day
    starts: list[datetime] = []
    while True:
        start = datetime(year, month if kind != "year" else 1, day if kind == "day" else 1)
        starts.append(start.replace(tzinfo=zone))
        if start.date() > last.date():
            return starts
        if kind == "day":
            following = start.date() + timedelta(days=1)
            year, month, day = following.year, following.month, following.day
        elif kind == "month":
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        else:
            year += 1


def prediction_created_periods(
    *, predictions: QuerySet[Prediction], kind: str, max_periods: int = 400
) -> list[datetime] | None:
    """The local years, months or days (`kind`) in which `predictions` were made, oldest first.

    What `QuerySet.datetimes("created", kind)` answers, but with one EXISTS range probe on the
    `created` index per candidate period instead of a date function on every row (on SQLite a
    Python function, slow at 100,000 rows, for the admin's date hierarchy; docs/performance.md).
    None when the range holds more than `max_periods` candidates.
    """
    predictions = predictions.order_by()
    bounds = predictions.aggregate(first=Min("created"), last=Max("created"))
    if bounds["first"] is None:
        return []
    starts = _period_starts(bounds["first"], bounds["last"], kind)
    if len(starts) > max_periods + 1:
        return None
    probes = {
        f"p{n}": Exists(predictions.filter(created__gte=start, created__lt=end))
        for n, (start, end) in enumerate(itertools.pairwise(starts))
    }
    found = Prediction.objects.order_by().annotate(**probes).values_list(*probes)[0]
    return [start for start, hit in zip(starts, found, strict=False) if hit]


def job_list_for(*, user: AbstractBaseUser) -> QuerySet[Job]:
    """The jobs `user` may see, newest first: staff see every job, others their own."""
    jobs = Job.objects.select_related("requested_by")
    if user.is_staff:
        return jobs
    return jobs.filter(requested_by=user)


def job_training_unfinished() -> Job | None:
    """The training that is queued or running, if any (there is at most one)."""
    return Job.objects.filter(kind=JobKind.TRAINING, status__in=JobStatus.unfinished()).first()


def job_label_issues_unfinished() -> Job | None:
    """A label check that is queued or running, if any (the oldest)."""
    return (
        Job.objects.filter(kind=JobKind.LABEL_ISSUES, status__in=JobStatus.unfinished())
        .order_by("created", "id")
        .first()
    )


def job_file(*, job: Job, role: str) -> JobFile | None:
    """A job's input or result file, with its bytes."""
    return JobFile.objects.filter(job=job, role=role).first()


def prediction_explanation(*, prediction: Prediction, top: int = TOP_TERMS) -> Explanation:
    """Why the model version that made `prediction` gave it its probability (ml.explain), its
    `top` words first. ExplanationUnavailable when that version's artifact cannot be loaded."""
    version = prediction.model_version
    try:
        model = version_models.get(version)
    except ArtifactError as exc:
        raise ExplanationUnavailable(
            f"Prediction #{prediction.pk} cannot be explained: {exc}."
        ) from exc
    return explain(model, prediction.text, prediction.keyword, prediction.location, top=top)


def reviewer_blind_first(*, user: AbstractBaseUser) -> bool:
    """Whether `user` reviews without the model's reasons until they have answered."""
    return ReviewerPreference.objects.filter(user=user, blind_first=True).exists()


# --- Label check: reviews that look wrong (issue #17) -------------------------------------------


def label_check_review_list() -> QuerySet[Prediction]:
    """The reviewed predictions whose labels the label check scores: every prediction whose
    reviewer's label counts as the truth (not one in a double-review conflict: that has no
    one label to check yet); the one place that says which."""
    return Prediction.objects.filter(label_is_truth())


def label_check_reviews() -> list[tuple[int, tuple[str, str, str, int]]]:
    """`label_check_review_list` as (id, (text, keyword, location, target)), by id."""
    rows = (
        label_check_review_list()
        .order_by("id")
        .values_list("id", "text", "keyword", "location", "true_label")
    )
    return [
        (pk, (text, keyword, location, Label.to_target(label)))
        for pk, text, keyword, location, label in rows
    ]


def label_suspicion_most_suspicious(*, limit: int = 5) -> QuerySet[LabelSuspicion]:
    """The flagged rows of the last check, most suspicious first, with their predictions."""
    return (
        LabelSuspicion.objects.filter(flagged=True)
        .select_related("prediction")
        .order_by("-suspicion", "id")[:limit]
    )


# What `label_issues --export` writes: where the base row is, the row, then the check's figures.
LABEL_EXPORT_COLUMNS = (
    "line",
    "id",
    "keyword",
    "location",
    "text",
    "label",
    "out_of_fold_probability",
    "suspicion",
)


def label_suspicion_base_export_rows() -> Iterator[tuple[object, ...]]:
    """The header, then the flagged base rows of the last check, most suspicious first."""
    yield LABEL_EXPORT_COLUMNS
    rows = (
        LabelSuspicion.objects.filter(prediction__isnull=True, flagged=True)
        .order_by("-suspicion", "base_line")
        .values_list(
            "base_line",
            "base_id",
            "keyword",
            "location",
            "text",
            "target",
            "probability",
            "suspicion",
        )
    )
    for *row, probability, suspicion in rows.iterator(chunk_size=2000):
        yield (*row, round(probability, 6), round(suspicion, 6))


@dataclass(frozen=True)
class JobQueueFigures:
    """Unfinished jobs by (kind, status), and how long the oldest queued one has waited."""

    unfinished: dict[tuple[str, str], int]
    oldest_queued_seconds: float


def job_queue_figures() -> JobQueueFigures:
    """What the job queue holds now; two small queries (unfinished jobs are few)."""
    rows = (
        Job.objects.filter(status__in=JobStatus.unfinished())
        .order_by()
        .values_list("kind", "status")
        .annotate(n=Count("pk"))
    )
    oldest = Job.objects.filter(status=JobStatus.QUEUED).aggregate(oldest=Min("created"))["oldest"]
    waited = (timezone.now() - oldest).total_seconds() if oldest is not None else 0.0
    return JobQueueFigures(
        unfinished={(kind, status): n for kind, status, n in rows},
        oldest_queued_seconds=max(0.0, waited),
    )


# --- drift ----------------------------------------------------------------------------------------

DRIFT_WINDOWS = (("24h", timedelta(hours=24)), ("7d", timedelta(days=7)))
DRIFT_TITLES = {
    "disaster_share": "Called disaster",
    "mean_probability": "Mean probability",
    "oov_share": "Words not in the vocabulary",
    "live_accuracy": "Live accuracy (audit sample)",
}
DRIFT_ADVICE = {
    "disaster_share": "Review a sample of recent predictions in the review queue; if reviewers "
    "confirm the change, retrain with their labels.",
    "mean_probability": "Review a sample of recent predictions in the review queue; if reviewers "
    "confirm the change, retrain with their labels.",
    "oov_share": "Tweets use many words the model never saw (new topics, names or spellings): "
    "review recent predictions and retrain so that the vocabulary takes them in.",
    "live_accuracy": "The model agrees with reviewers less than on its evaluation set: review more "
    "audit items to firm up the estimate, then retrain (the promotion gate compares the new "
    "version on the evaluation set, audit reviews included).",
}


@dataclass(frozen=True)
class DriftWindow:
    """The active version's predictions of the last `name` (24h, 7d)."""

    name: str
    predictions: int
    disaster_share: float | None
    mean_probability: float | None


@dataclass(frozen=True)
class DriftCheck:
    """One figure against its reference: `warning` when the difference is past `limit` and there
    is enough data to say so; `advice` says what to do then."""

    figure: str
    window: str
    live: float | None
    reference: float | None
    limit: float
    warning: bool

    @property
    def difference(self) -> float | None:
        if self.live is None or self.reference is None:
            return None
        return self.live - self.reference

    @property
    def title(self) -> str:
        return DRIFT_TITLES[self.figure]

    @property
    def advice(self) -> str:
        return DRIFT_ADVICE[self.figure]


@dataclass(frozen=True)
class DriftReport:
    """Live traffic against the active version's reference figures (ModelVersion.drift_reference,
    None when unknown), and the checks the dashboard and disaster_drift_warning show."""

    version: ModelVersion | None
    reference: dict | None
    windows: list[DriftWindow]
    oov_share: float | None
    oov_sample: int
    audit: AuditEstimate
    audit_days: int
    evaluation_accuracy: float | None
    checks: list[DriftCheck]

    @property
    def warnings(self) -> list[DriftCheck]:
        return [check for check in self.checks if check.warning]


def _drift_window(version: ModelVersion, name: str, since: datetime) -> DriftWindow:
    figures = Prediction.objects.filter(created__gte=since, model_version=version).aggregate(
        n=Count("pk"),
        disaster=Count("pk", filter=Q(predicted_label=Label.DISASTER)),
        mean=Avg("probability"),
    )
    n = figures["n"]
    return DriftWindow(
        name=name,
        predictions=n,
        disaster_share=figures["disaster"] / n if n else None,
        mean_probability=figures["mean"],
    )


def _recent_oov_share(since: datetime) -> tuple[float | None, int]:
    """The share of unknown words in the last DRIFT_OOV_SAMPLE predictions since `since` under the
    model this process serves, and how many predictions that is."""
    from ml.drift import oov_share, word_vectorizer
    from predictor.active_model import active_model
    from predictor.errors import ModelUnavailable

    try:
        model = active_model.get().model
    except ModelUnavailable:
        return None, 0
    texts = list(
        Prediction.objects.filter(created__gte=since)
        .order_by("-created")
        .values_list("text", flat=True)[: settings.DRIFT_OOV_SAMPLE]
    )
    return oov_share(word_vectorizer(model), texts), len(texts)


def prediction_drift(*, version: ModelVersion | None, now: datetime | None = None) -> DriftReport:
    """Drift of the last 24 hours and 7 days against the reference figures of `version` (the
    active one), the share of unknown words in recent predictions, and live accuracy from the
    audit sample against the evaluation set's; each checked against its threshold (settings
    DRIFT_*, LIVE_ACCURACY_*). Four queries, on the `created` index."""
    now = now or timezone.now()
    audit_days = settings.LIVE_ACCURACY_DAYS
    audit = prediction_audit_estimate(since=now - timedelta(days=audit_days))
    if version is None:
        return DriftReport(None, None, [], None, 0, audit, audit_days, None, [])
    reference = version.drift_reference
    windows = [_drift_window(version, name, now - span) for name, span in DRIFT_WINDOWS]
    oov, oov_sample = _recent_oov_share(now - DRIFT_WINDOWS[-1][1])
    evaluation_accuracy = (version.evaluation or {}).get("accuracy")
    enough = settings.DRIFT_MIN_PREDICTIONS

    def check(figure: str, window: str, live, n: int, limit: float, *, rising_only=False):
        ref = (reference or {}).get(figure)
        past = False
        if live is not None and ref is not None and n >= enough:
            difference = live - ref
            past = (difference if rising_only else abs(difference)) > limit
        return DriftCheck(figure, window, live, ref, limit, past)

    checks = []
    for window in windows:
        checks.append(
            check(
                "disaster_share",
                window.name,
                window.disaster_share,
                window.predictions,
                settings.DRIFT_DISASTER_SHARE_DELTA,
            )
        )
        checks.append(
            check(
                "mean_probability",
                window.name,
                window.mean_probability,
                window.predictions,
                settings.DRIFT_MEAN_PROBABILITY_DELTA,
            )
        )
    checks.append(
        check("oov_share", "recent", oov, oov_sample, settings.DRIFT_OOV_DELTA, rising_only=True)
    )
    # Live accuracy warns only when even the top of its 95% interval is too low: a handful of
    # audit reviews cannot raise a false alarm.
    interval = audit.interval
    low_accuracy = (
        interval is not None
        and evaluation_accuracy is not None
        and interval[1] < evaluation_accuracy - settings.LIVE_ACCURACY_DELTA
    )
    checks.append(
        DriftCheck(
            "live_accuracy",
            f"{audit_days}d",
            audit.accuracy,
            evaluation_accuracy,
            settings.LIVE_ACCURACY_DELTA,
            low_accuracy,
        )
    )
    return DriftReport(
        version, reference, windows, oov, oov_sample, audit, audit_days, evaluation_accuracy, checks
    )
