"""Where model artifacts live: DATA_DIR/models on this machine, and with MODEL_STORE=database
also in the database, from which an instance fetches (and verifies) a version it lacks."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from django.conf import settings

from ml.model import TrainedModel
from ml.persistence import ArtifactError, file_sha256, load
from predictor.models import ModelArtifact, ModelVersion


def artifact_path(version: ModelVersion) -> Path:
    """The artifact's place in this machine's model directory."""
    return settings.MODELS_DIR / version.artifact_path


def artifact_publish(*, version: ModelVersion) -> None:
    """Share a freshly saved artifact with other instances (a no-op for the filesystem store)."""
    if settings.MODEL_STORE == "database":
        ModelArtifact.objects.create(version=version, data=artifact_path(version).read_bytes())


def artifact_local_file(version: ModelVersion) -> Path:
    """A local file holding `version`'s artifact, fetched from the store if it is not here.

    ArtifactError when it is missing here and in the store. Not hashed: `ml.persistence.load`
    checks the bytes it unpickles, which is the check that counts.
    """
    path = artifact_path(version)
    if not path.is_file() and settings.MODEL_STORE == "database":
        _fetch(version, path)
    if not path.is_file():
        # The file name only: this message reaches anonymous callers (503s, /readyz).
        raise ArtifactError(f"artifact of {version.name} is missing: {version.artifact_path}")
    return path


def artifact_load(version: ModelVersion) -> TrainedModel:
    """`version`'s model, loaded only if its bytes match the recorded SHA-256 (ArtifactError
    otherwise, naming the version, not the server's paths: the message reaches 503s)."""
    return load(artifact_local_file(version), version.sha256, label=f"artifact of {version.name}")


def artifact_verify(version: ModelVersion) -> Path:
    """`artifact_local_file`, checked against the recorded SHA-256 without unpickling it (before
    an activation). ArtifactError when it is missing or does not match."""
    path = artifact_local_file(version)
    if file_sha256(path) != version.sha256:
        raise ArtifactError(f"artifact of {version.name} does not match its recorded SHA-256")
    return path


def _fetch(version: ModelVersion, path: Path) -> None:
    data = ModelArtifact.objects.filter(version=version).values_list("data", flat=True).first()
    if data is None:
        return
    data = bytes(data)
    # Checked once here, so that a bad copy never lands in the local cache.
    if hashlib.sha256(data).hexdigest() != version.sha256:
        raise ArtifactError(
            f"artifact of {version.name} in the database does not match its recorded SHA-256"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".fetch-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
