"""The model of any version, for reading its predictions again (explanations): the active model
when it is that version, else its artifact, verified by hash, with the few most recent kept."""

from __future__ import annotations

import threading
from collections import OrderedDict

from ml.model import TrainedModel
from predictor.active_model import active_model
from predictor.artifact_store import artifact_load
from predictor.errors import ModelUnavailable
from predictor.models import ModelVersion

# Older versions are asked for now and then (a review of last week's predictions); each loaded
# model holds some megabytes, so only the most recent few stay in memory.
KEPT_VERSIONS = 2


class _VersionModels:
    """Per-process, thread-safe cache of recently used inactive versions' models."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._models: OrderedDict[tuple[int, str], TrainedModel] = OrderedDict()

    def get(self, version: ModelVersion) -> TrainedModel:
        """`version`'s model; ArtifactError when its artifact is missing or does not match."""
        try:
            current = active_model.get()
        except ModelUnavailable:
            current = None
        if current is not None and current.version.pk == version.pk:
            return current.model
        key = (version.pk, version.sha256)
        with self._lock:
            model = self._models.get(key)
            if model is not None:
                self._models.move_to_end(key)
                return model
        model = artifact_load(version)
        with self._lock:
            self._models[key] = model
            while len(self._models) > self._size:
                self._models.popitem(last=False)
        return model

    def clear(self) -> None:
        with self._lock:
            self._models.clear()


version_models = _VersionModels(KEPT_VERSIONS)
