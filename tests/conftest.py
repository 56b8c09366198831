"""Fixtures shared by the whole suite: a model trained once on the sample data, and an active
model version backed by a verified artifact in the test DATA_DIR."""

from __future__ import annotations

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
    """Factory: a stored ModelVersion whose artifact is a copy of the sample model."""
    from predictor.models import ModelVersion

    def make(name: str = "v1", *, activate: bool = True) -> ModelVersion:
        settings.MODELS_DIR.mkdir(parents=True, exist_ok=True)
        target = settings.MODELS_DIR / f"{name}-test.joblib"
        artifact, threshold = sample_artifact
        shutil.copyfile(artifact.path, target)
        version = ModelVersion.objects.create(
            name=name,
            artifact_path=target.name,
            sha256=artifact.sha256,
            threshold=threshold,
            base_rows=200,
            metrics={"f1": 0.8, "accuracy": 0.8, "precision": 0.8, "recall": 0.8, "roc_auc": 0.9},
        )
        if activate:
            from predictor.services import model_version_activate

            model_version_activate(version=version)
        return version

    return make


@pytest.fixture
def active_version(make_version):
    return make_version("v1")
