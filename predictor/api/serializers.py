"""Request validation and response shapes of the prediction and model-version API.

Each shape is defined once, by a serializer: its declared fields are the schema, and its
`parse`/`represent` static method is what the views call (plain functions on the hot path: a
Serializer instance deep-copies its fields on every call, which cost more than the checks;
bench/profile_request.py). tests/predictor/api/test_serializers.py holds the two in step.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ml.explain import Explanation
from predictor.models import Job, JobStatus, Label, ModelVersion, Prediction
from predictor.tweets import FIELD_MAX_LENGTH, TEXT_MAX_LENGTH, InvalidTweet, Tweet, tweet_clean

BATCH_MAX_ITEMS = 1000


def _require_object(data: Any) -> None:
    if not isinstance(data, dict):
        raise serializers.ValidationError(
            {
                "non_field_errors": [
                    f"Invalid data. Expected a dictionary, but got {type(data).__name__}."
                ]
            }
        )


def _tweet_from_json(data: Any) -> Tweet:
    """One tweet from parsed JSON, with DRF's error shape; the rules are `tweet_clean`'s."""
    _require_object(data)
    errors: dict[str, list[str]] = {}
    if "text" not in data or data["text"] is None:
        errors["text"] = ["This field is required."]
    for field in ("text", "keyword", "location"):
        value = data.get(field)
        if value is not None and not isinstance(value, str):
            errors[field] = ["Not a valid string."]
    if errors:
        raise serializers.ValidationError(errors)
    try:
        return tweet_clean(
            text=data["text"], keyword=data.get("keyword"), location=data.get("location")
        )
    except InvalidTweet as exc:
        raise serializers.ValidationError({exc.field: [exc.message]}) from None


def _tweets_from_json(data: Any) -> list[Tweet]:
    """The tweets of a batch body `{"items": [...]}`, with the error shape of a DRF ListField of
    TweetSerializer (a bad item's errors under its index). A loop over `_tweet_from_json`: the
    ListField's per-item field machinery cost more than the checks (bench/results.md)."""
    _require_object(data)
    items = data.get("items")
    problem = None
    if "items" not in data:
        problem = "This field is required."
    elif items is None:
        problem = "This field may not be null."
    elif not isinstance(items, list):
        problem = f'Expected a list of items but got type "{type(items).__name__}".'
    elif not items:
        problem = "This list may not be empty."
    elif len(items) > BATCH_MAX_ITEMS:
        problem = f"Ensure this field has no more than {BATCH_MAX_ITEMS} elements."
    if problem:
        raise serializers.ValidationError({"items": [problem]})
    tweets, errors = [], {}
    for index, item in enumerate(items):
        # The usual item, a JSON object of strings (or null keyword and location), goes
        # straight to tweet_clean; anything else, and any item it refuses, takes the full path
        # below, which gives the error.
        if type(item) is dict:
            text, keyword, location = item.get("text"), item.get("keyword"), item.get("location")
            if (
                type(text) is str
                and (keyword is None or type(keyword) is str)
                and (location is None or type(location) is str)
            ):
                try:
                    tweets.append(tweet_clean(text=text, keyword=keyword, location=location))
                    continue
                except InvalidTweet:
                    pass
        if item is None:
            errors[index] = ["This field may not be null."]
            continue
        try:
            tweets.append(_tweet_from_json(item))
        except serializers.ValidationError as exc:
            errors[index] = exc.detail
    if errors:
        raise serializers.ValidationError({"items": errors})
    return tweets


# What tweet_clean accepts, as patterns for the schema: a value that, once str.strip() has removed
# the white space around it, is at most N characters (text: at least one), with no NUL anywhere.
# maxLength cannot say "after stripping", so the pattern counts. White space is spelled out: a
# schema's \s (ECMAScript's) is not Python's (U+0085 is white space only to Python, U+FEFF only
# to ECMAScript); written with \uXXXX escapes the pattern means the same to both.
PYTHON_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


def _stripped_pattern(max_length: int, *, required: bool) -> str:
    space = "".join(f"\\u{ord(c):04x}" for c in PYTHON_WHITESPACE)
    kept = f"[^{space}\\u0000]"  # a character strip() keeps that is not NUL
    core = f"{kept}(?:[^\\u0000]{{0,{max_length - 2}}}{kept})?"
    return f"^[{space}]*(?:{core}){'' if required else '?'}[{space}]*$"


TEXT_PATTERN = _stripped_pattern(TEXT_MAX_LENGTH, required=True)
FIELD_PATTERN = _stripped_pattern(FIELD_MAX_LENGTH, required=False)


@extend_schema_field(
    {
        "type": "string",
        "nullable": True,
        "default": "",
        "pattern": FIELD_PATTERN,
        "description": f"Up to {FIELD_MAX_LENGTH} characters, not counting white space around;"
        " no lone surrogates.",
    }
)
class OptionalTweetField(serializers.Field):
    """keyword and location: optional; blank or null mean none. Documentation only, like the
    serializer: a plain Field, so the schema is exactly the one above (a CharField with a pattern
    and allow_blank gets a oneOf that the empty string matches twice, so never)."""


@extend_schema_field(
    {
        "type": "string",
        "pattern": TEXT_PATTERN,
        "description": f"1 to {TEXT_MAX_LENGTH:,} characters, not counting white space around;"
        " no lone surrogates (\\ud800 escapes without their pair), which no pattern can say.",
    }
)
class TweetTextField(serializers.Field):
    """text: required, not blank. Documentation only."""


class TweetSerializer(serializers.Serializer):
    """One tweet to classify: a `Tweet`'s fields."""

    text = TweetTextField()
    keyword = OptionalTweetField(required=False, allow_null=True)
    location = OptionalTweetField(required=False, allow_null=True)

    parse = staticmethod(_tweet_from_json)

    def to_internal_value(self, data: Any) -> Tweet:
        return self.parse(data)


class BatchSerializer(serializers.Serializer):
    """1 to 1,000 tweets."""

    items = serializers.ListField(
        child=TweetSerializer(), min_length=1, max_length=BATCH_MAX_ITEMS, allow_empty=False
    )

    parse = staticmethod(_tweets_from_json)

    def to_internal_value(self, data: Any) -> dict[str, list[Tweet]]:
        return {"items": self.parse(data)}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def _prediction_as_dict(prediction: Prediction) -> dict[str, Any]:
    """The API's view of a prediction, built as a plain dict (the hot path renders many)."""
    return {
        "id": prediction.pk,
        "text": prediction.text,
        "keyword": prediction.keyword,
        "location": prediction.location,
        "label": prediction.predicted_label,
        "is_disaster": prediction.predicted_label == Label.DISASTER,
        "probability": round(prediction.probability, 6),
        "threshold": round(prediction.threshold, 6),
        "model_version": prediction.model_version.name,
        "created": _iso(prediction.created),
    }


class PredictionSerializer(serializers.Serializer):
    """A stored prediction, as the create endpoints answer it."""

    id = serializers.IntegerField(read_only=True)
    text = serializers.CharField(read_only=True)
    keyword = serializers.CharField(read_only=True)
    location = serializers.CharField(read_only=True)
    label = serializers.ChoiceField(choices=Label.choices, read_only=True)
    is_disaster = serializers.BooleanField(read_only=True)
    probability = serializers.FloatField(read_only=True)
    threshold = serializers.FloatField(read_only=True)
    model_version = serializers.CharField(read_only=True)
    created = serializers.DateTimeField(read_only=True)

    represent = staticmethod(_prediction_as_dict)

    def to_representation(self, instance: Prediction) -> dict[str, Any]:
        return self.represent(instance)


def _batch_as_dict(predictions: list[Prediction]) -> dict[str, Any]:
    """`_prediction_as_dict` of each prediction, the values a batch shares (its version, its
    creation time) formatted once."""
    versions: dict[int, str] = {}
    moments: dict[datetime | None, str | None] = {}
    disaster = Label.DISASTER
    results = []
    for prediction in predictions:
        version = versions.get(prediction.model_version_id)
        if version is None:
            version = versions[prediction.model_version_id] = prediction.model_version.name
        created = prediction.created
        if created not in moments:
            moments[created] = _iso(created)
        label = prediction.predicted_label
        results.append(
            {
                "id": prediction.pk,
                "text": prediction.text,
                "keyword": prediction.keyword,
                "location": prediction.location,
                "label": label,
                "is_disaster": label == disaster,
                "probability": round(prediction.probability, 6),
                "threshold": round(prediction.threshold, 6),
                "model_version": version,
                "created": moments[created],
            }
        )
    return {"model_version": predictions[0].model_version.name, "results": results}


class BatchResultSerializer(serializers.Serializer):
    """A batch's stored predictions, in request order, and the version that made them."""

    model_version = serializers.CharField(read_only=True)
    results = PredictionSerializer(many=True, read_only=True)

    represent = staticmethod(_batch_as_dict)

    def to_representation(self, instance: list[Prediction]) -> dict[str, Any]:
        return self.represent(instance)


class PredictionHistorySerializer(PredictionSerializer):
    """A stored prediction with its review, for the staff history endpoints."""

    source = serializers.CharField(read_only=True)
    true_label = serializers.ChoiceField(choices=Label.choices, read_only=True, allow_null=True)
    reviewed_by = serializers.CharField(read_only=True, allow_null=True)
    reviewed_at = serializers.DateTimeField(read_only=True, allow_null=True)
    suspicion = serializers.FloatField(
        read_only=True,
        allow_null=True,
        help_text="How likely the reviewer's label is wrong (0 to 1) by the last label check "
        "(manage.py label_issues); null when that check did not score this prediction.",
    )

    @staticmethod
    def represent(prediction: Prediction) -> dict[str, Any]:
        checked = getattr(prediction, "suspicion", None)
        return {
            **_prediction_as_dict(prediction),
            "source": prediction.source,
            "true_label": prediction.true_label,
            "reviewed_by": (
                prediction.reviewed_by.get_username() if prediction.reviewed_by else None
            ),
            "reviewed_at": _iso(prediction.reviewed_at),
            "suspicion": round(checked.suspicion, 6) if checked else None,
        }


class RelabelSerializer(serializers.Serializer):
    true_label = serializers.ChoiceField(choices=Label.choices, allow_null=True)


class ModelVersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = ModelVersion
        fields = list(ModelVersion.RECORD_FIELDS)
        read_only_fields = fields


class JobSerializer(serializers.ModelSerializer):
    """A background job: where it is, and its result (absolute addresses) or its error."""

    url = serializers.SerializerMethodField(help_text="This job's own address (poll it).")
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Job
        fields = [
            "id",
            "kind",
            "status",
            "stage",
            "progress",
            "requested_by",
            "created",
            "started",
            "finished",
            "heartbeat",
            "params",
            "result",
            "error",
            "retry_of",
            "url",
        ]
        read_only_fields = fields

    def get_url(self, job: Job) -> str:
        return self._absolute(reverse("api:job-detail", args=[job.pk]))

    def to_representation(self, instance: Job) -> dict[str, Any]:
        data = super().to_representation(instance)
        result = data.get("result")
        if isinstance(result, dict) and isinstance(result.get("download"), str):
            data["result"] = {**result, "download": self._absolute(result["download"])}
        return data

    def _absolute(self, path: str) -> str:
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class JobAddressSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    status = serializers.ChoiceField(choices=JobStatus.choices, read_only=True)
    url = serializers.URLField(read_only=True)


class JobConflictSerializer(serializers.Serializer):
    """A request refused because of a job's state (a second training, a retry of a job that
    did not fail): that job, and its address."""

    detail = serializers.CharField(read_only=True)
    job = JobAddressSerializer(read_only=True)


class ExplanationTermSerializer(serializers.Serializer):
    term = serializers.CharField(
        read_only=True,
        help_text='A word of the tweet, "keyword: …", "location: …", or the '
        "absent words as one term.",
    )
    field = serializers.ChoiceField(
        choices=["text", "keyword", "location", "absent"], read_only=True
    )
    contribution = serializers.FloatField(read_only=True, help_text="In probability units.")
    direction = serializers.ChoiceField(
        choices=[Label.DISASTER.value, Label.NOT_DISASTER.value], read_only=True
    )


class ExplanationMemberSerializer(serializers.Serializer):
    name = serializers.ChoiceField(choices=["linear", "trees"], read_only=True)
    weight = serializers.FloatField(read_only=True)
    base = serializers.FloatField(read_only=True, help_text="Intercept, or XGBoost's bias.")
    margin = serializers.FloatField(read_only=True, help_text="Log-odds: base + its terms.")
    probability = serializers.FloatField(read_only=True)


def _explanation_as_dict(prediction: Prediction, explanation: Explanation) -> dict[str, Any]:
    return {
        "id": prediction.pk,
        "model_version": prediction.model_version.name,
        "probability": prediction.probability,
        **explanation.as_dict(),
    }


class PredictionExplanationSerializer(serializers.Serializer):
    """Why the model version that made a prediction gave it its probability: `score` = `base` +
    the `terms` + `rest`, in probability units; `score` equals `probability` within 1e-5."""

    id = serializers.IntegerField(read_only=True)
    model_version = serializers.CharField(read_only=True)
    probability = serializers.FloatField(read_only=True, help_text="As stored.")
    score = serializers.FloatField(read_only=True, help_text="What the explanation adds up to.")
    base = serializers.FloatField(read_only=True, help_text="The score of no words at all.")
    unit = serializers.ChoiceField(choices=["probability"], read_only=True)
    terms = ExplanationTermSerializer(
        many=True, read_only=True, help_text="The 10 largest by absolute contribution, first."
    )
    rest = serializers.FloatField(read_only=True, help_text="The sum of all other terms.")
    rest_count = serializers.IntegerField(read_only=True, help_text="How many other terms.")
    members = ExplanationMemberSerializer(many=True, read_only=True)

    represent = staticmethod(_explanation_as_dict)
