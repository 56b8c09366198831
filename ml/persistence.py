"""Saving a TrainedModel as one joblib file, and loading it back only if its SHA-256 matches."""

import hashlib
import hmac
import io
import os
import pathlib
import tempfile
from dataclasses import dataclass

import joblib

from ml.model import TrainedModel

SUFFIX = ".joblib"


class ArtifactError(Exception):
    """Missing, tampered or unreadable artifact; clear one-line message."""


@dataclass(frozen=True)
class Artifact:
    """A saved model file and the SHA-256 that loading it will require."""

    path: pathlib.Path
    sha256: str
    size: int


def file_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's contents."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save(model: TrainedModel, directory: str | os.PathLike, name: str) -> Artifact:
    """Write ``<directory>/<name>.joblib`` atomically: readers see no file or the whole of it."""
    if not name or os.sep in name or (os.altsep and os.altsep in name) or name.startswith("."):
        raise ValueError(f"artifact name must be a plain file name, got {name!r}")
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}{SUFFIX}"
    descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            joblib.dump(model, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        pathlib.Path(temporary).unlink(missing_ok=True)
        raise
    return Artifact(path=path, sha256=file_sha256(path), size=path.stat().st_size)


def load(
    path: str | os.PathLike, expected_sha256: str, *, label: str | None = None
) -> TrainedModel:
    """Load a TrainedModel for serving after checking the file's SHA-256, before any unpickling.

    Errors name the file as `label` when given (e.g. "artifact of v3" where the message may
    reach people who should not read the server's paths), else as "artifact <path>".
    """
    path = pathlib.Path(path)
    name, label = label, label or f"artifact {path}"
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        raise ArtifactError(
            f"{label} is missing" if name else f"no such artifact: {path}"
        ) from None
    except OSError as error:
        raise ArtifactError(f"cannot read {label}: {error.strerror or error}") from None

    # The bytes that were hashed are the bytes unpickled: the file cannot change in between.
    actual = hashlib.sha256(content).hexdigest()
    if not hmac.compare_digest(actual, expected_sha256.strip().lower()):
        raise ArtifactError(
            f"{label} does not match its recorded SHA-256 "
            f"(expected {expected_sha256[:12]}…, found {actual[:12]}…): refusing to load it"
        )
    try:
        model = joblib.load(io.BytesIO(content))
    except Exception as error:
        raise ArtifactError(f"cannot unpickle {label}: {type(error).__name__}: {error}") from error
    if not isinstance(model, TrainedModel):
        raise ArtifactError(f"{label} holds a {type(model).__name__}, not a TrainedModel")
    model.prepare_for_serving(n_threads=1)
    return model
