"""The promotion gate on the two scenarios that motivated it, end to end on the shared data:
tweets streamed through the batch API, reviewed through the API, then `manage.py retrain`.

train.csv is split by near-duplicate groups into a base (the server's training data), a stream
(tweets that arrive and get reviewed) and an unseen remainder (for the figures only).
- Poisoned: every streamed tweet reviewed with the wrong label. The gate must refuse.
- Helpful: a small base, and 1,000 streamed tweets reviewed right in uncertainty order. The
  gate must promote.
"""

from __future__ import annotations

import csv
import json
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from ml.data import Dataset, read_csv
from ml.evaluate import evaluate
from ml.groups import group_ids
from predictor.artifact_store import artifact_load
from predictor.models import Label, ModelVersion
from tests.conftest import shared_train_data

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db,
    pytest.mark.skipif(shared_train_data() is None, reason="the shared train.csv is not here"),
]


def split_by_groups(data: Dataset, sizes: list[int], seed: int) -> list[np.ndarray]:
    """Row indices: parts of about `sizes` rows and the rest, whole near-duplicate groups each."""
    groups = group_ids(data.text)
    order = np.random.default_rng(seed).permutation(int(groups.max()) + 1)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    rows = np.argsort(rank[groups], kind="stable")  # rows of a group together, groups shuffled
    parts, start = [], 0
    for size in sizes:
        end = start + size
        while end < len(rows) and groups[rows[end]] == groups[rows[end - 1]]:
            end += 1
        parts.append(np.sort(rows[start:end]))
        start = end
    return [*parts, np.sort(rows[start:])]


def write_csv(path: Path, data: Dataset) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "keyword", "location", "text", "target"])
        for i, (text, keyword, location, target) in enumerate(data.rows(), 1):
            writer.writerow([i, keyword, location, text, target])
    return path


def retrain(*args: str) -> dict:
    out = StringIO()
    call_command("retrain", *args, "--json", stdout=out, stderr=StringIO())
    return json.loads(out.getvalue().strip().splitlines()[-1])


@pytest.fixture
def reviewer_api(reviewer) -> APIClient:
    client = APIClient()
    client.force_authenticate(reviewer)
    return client


def stream(api: APIClient, data: Dataset) -> list[int]:
    """Send the tweets through the batch API; the stored predictions' ids, in order."""
    ids = []
    for start in range(0, len(data), 1000):
        items = [
            {"text": text, "keyword": keyword, "location": location}
            for text, keyword, location, _ in data.rows()[start : start + 1000]
        ]
        answer = api.post("/api/predictions/batch/", {"items": items}, format="json")
        assert answer.status_code == 201, answer.content[:300]
        ids += [result["id"] for result in answer.json()["results"]]
    return ids


def review(api: APIClient, pk: int, target: int) -> None:
    label = Label.DISASTER if target else Label.NOT_DISASTER
    answer = api.patch(f"/api/predictions/{pk}/", {"true_label": label}, format="json")
    assert answer.status_code == 200, answer.content[:300]


def unseen_f1(scenario: str, report: dict, unseen: Dataset) -> tuple[float, float]:
    """F1 of v1 and v2 on the tweets in neither part; printed with the gate's report (-s)."""
    old, new = (
        evaluate(artifact_load(ModelVersion.objects.get(name=name)), unseen).f1
        for name in ("v1", "v2")
    )
    print(
        f"\n{scenario}: {json.dumps(report['comparison'], default=str)}\n"
        f"unseen F1 v1 {old:.3f} v2 {new:.3f}"
    )
    return old, new


def test_a_poisoned_retrain_is_refused(tmp_path, reviewer_api):
    data = read_csv(shared_train_data())
    stream_rows, unseen_rows, base_rows = split_by_groups(data, [1500, 1500], seed=1)
    base = write_csv(tmp_path / "base.csv", data.subset(base_rows))
    first = retrain("--data", str(base))
    assert (first["version"], first["activated"]) == ("v1", True)

    streamed = data.subset(stream_rows)
    ids = stream(APIClient(), streamed)
    for pk, target in zip(ids, streamed.target, strict=True):
        review(reviewer_api, pk, 1 - target)  # every label wrong
    report = retrain("--data", str(base))

    old, new = unseen_f1("poisoned", report, data.subset(unseen_rows))
    assert report["decision"] == "refused", report["reason"]
    assert ModelVersion.objects.get(is_active=True).name == "v1"
    assert report["comparison"]["delta_f1"] < 0
    assert new < old


def test_a_helpful_retrain_is_promoted(tmp_path, reviewer_api):
    data = read_csv(shared_train_data())
    base_rows, stream_rows, unseen_rows = split_by_groups(data, [2000, 3000], seed=2)
    base = write_csv(tmp_path / "base.csv", data.subset(base_rows))
    assert retrain("--data", str(base))["activated"]

    streamed = data.subset(stream_rows)
    ids = stream(APIClient(), streamed)
    truth = dict(zip(ids, streamed.target, strict=True))
    # The 1,000 the model is least sure of, as a reviewer's queue would show them.
    queue = []
    for page in range(1, 21):
        answer = reviewer_api.get(
            "/api/predictions/", {"reviewed": "false", "ordering": "uncertainty", "page": page}
        )
        queue += [row["id"] for row in answer.json()["results"]]
    assert len(set(queue)) == 1000
    for pk in queue:
        review(reviewer_api, pk, truth[pk])
    report = retrain("--data", str(base))

    old, new = unseen_f1("helpful", report, data.subset(unseen_rows))
    assert report["decision"] == "promoted", report["reason"]
    assert ModelVersion.objects.get(is_active=True).name == "v2"
    assert new > old
