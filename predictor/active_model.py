"""The active model of this process: loaded once, verified by hash, swapped when another version
becomes active (checked at most every ACTIVE_MODEL_CHECK_SECONDS, or at once after a local
activation)."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from django.conf import settings

from ml.model import TrainedModel
from ml.persistence import ArtifactError
from predictor.artifact_store import artifact_load
from predictor.errors import ModelUnavailable
from predictor.models import ModelVersion

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ActiveModel:
    version: ModelVersion
    model: TrainedModel


class _ActiveModelCache:
    """Per-process cache; thread-safe so gthread workers share one loaded model."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current: ActiveModel | None = None
        self._error: str | None = None
        self._checked_at = float("-inf")

    def get(self) -> ActiveModel:
        """The active model, or ModelUnavailable with the reason."""
        if time.monotonic() - self._checked_at >= settings.ACTIVE_MODEL_CHECK_SECONDS:
            self._refresh()
        current, error = self._current, self._error
        if current is None:
            raise ModelUnavailable(error or "no model is active")
        return current

    def invalidate(self) -> None:
        """Make the next `get` look at the database again (after a local activation)."""
        self._checked_at = float("-inf")

    def _refresh(self) -> None:
        with self._lock:
            if time.monotonic() - self._checked_at < settings.ACTIVE_MODEL_CHECK_SECONDS:
                return
            active = ModelVersion.objects.filter(is_active=True).values_list("id", "sha256").first()
            self._checked_at = time.monotonic()
            if active is None:
                self._current, self._error = None, "no model is active"
                return
            current = self._current
            if current is not None and (current.version.pk, current.version.sha256) == active:
                return
            version = ModelVersion.objects.filter(pk=active[0]).first()
            if version is None:
                self._checked_at = float("-inf")
                return
            try:
                model = artifact_load(version)
            except ArtifactError as exc:
                logger.error("model version %s cannot be loaded: %s", version.name, exc)
                self._current = None
                self._error = f"model version {version.name} cannot be loaded: {exc}"
                return
            self._current = ActiveModel(version, model)
            self._error = None
            logger.info("loaded model version %s", version.name)


active_model = _ActiveModelCache()
