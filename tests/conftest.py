"""Fixtures shared by the whole suite: a model trained once on the sample data, and an active
model version backed by a verified artifact in the test DATA_DIR."""

from __future__ import annotations

import importlib
import os
import shutil
from pathlib import Path

import pytest
from django.conf import settings

SHARED_TRAIN_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "train.csv"


def shared_train_data() -> Path | None:
    """The real labelled data set: TRAIN_DATA when set, else ../shared/data/train.csv if present."""
    candidate = (
        Path(os.environ["TRAIN_DATA"]) if os.environ.get("TRAIN_DATA") else SHARED_TRAIN_DATA
    )
    return candidate if candidate.is_file() else None


@pytest.fixture(scope="session")
def sample_artifact(tmp_path_factory: pytest.TempPathFactory):
    """A model trained once per session on the bundled sample, saved outside DATA_DIR."""
    from ml.data import read_csv
    from ml.persistence import save
    from ml.train import train

    model = train(read_csv(settings.SAMPLE_TRAIN_DATA), n_jobs=1)
    artifact = save(model, tmp_path_factory.mktemp("artifacts"), "sample")
    return artifact, model.threshold


@pytest.fixture
def make_version(db, sample_artifact):
    """Factory: a stored ModelVersion, activated through the service.

    With `artifact=True` (the default) its artifact is a copy of the sample model, so it can
    serve; with `artifact=False` it is a row only (threshold 0.5), enough for stored predictions
    and the lists, and is not activated. `fields` override the row's values.
    """
    from predictor.models import ModelVersion
    from predictor.services import model_version_activate

    def make(
        name: str = "v1", *, artifact: bool = True, activate: bool | None = None, **fields
    ) -> ModelVersion:
        saved, threshold = sample_artifact
        if artifact:
            settings.MODELS_DIR.mkdir(parents=True, exist_ok=True)
            target = settings.MODELS_DIR / f"{name}-test.joblib"
            shutil.copyfile(saved.path, target)
            row = {"artifact_path": target.name, "sha256": saved.sha256, "threshold": threshold}
        else:
            row = {"artifact_path": f"{name}-missing.joblib", "sha256": "0" * 64, "threshold": 0.5}
        metrics = {"f1": 0.8, "accuracy": 0.8, "precision": 0.8, "recall": 0.8, "roc_auc": 0.9}
        version = ModelVersion.objects.create(
            name=name, **{"base_rows": 200, "metrics": metrics, **row, **fields}
        )
        if artifact if activate is None else activate:
            model_version_activate(version=version, via="test")
        return version

    return make


@pytest.fixture
def active_version(make_version):
    return make_version("v1")


def reviewers_group():
    """The Reviewers group its data migration makes, made again with the same permissions when a
    transactional test's flush has removed it."""
    from django.contrib.auth.models import Group, Permission

    migration = importlib.import_module("predictor.migrations.0003_reviewers_group")
    jobs = importlib.import_module("predictor.migrations.0006_jobs")
    group, created = Group.objects.get_or_create(name=migration.GROUP)
    if created:
        group.permissions.add(
            *(
                Permission.objects.get(content_type__app_label=app, codename=codename)
                for app, _model, codename in migration.PERMISSIONS + jobs.PERMISSIONS
            )
        )
    return group


@pytest.fixture
def reviewer(django_user_model):
    """A staff user in the Reviewers group: views and relabels predictions, cannot activate."""
    user = django_user_model.objects.create_user("rita", password="review-pass-123", is_staff=True)
    user.groups.add(reviewers_group())
    return user
