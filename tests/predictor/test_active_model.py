"""The per-process model cache: loads once, follows activations, refuses bad artifacts."""

from __future__ import annotations

import pytest
from django.conf import settings

from predictor import services
from predictor.active_model import _ActiveModelCache
from predictor.errors import ModelUnavailable
from predictor.models import ModelVersion
from predictor.tweets import tweet_clean

pytestmark = pytest.mark.django_db


@pytest.fixture
def cache():
    return _ActiveModelCache()


def test_loads_the_active_version_once(cache, active_version, monkeypatch):
    first = cache.get()
    assert first.version == active_version
    calls = []
    monkeypatch.setattr("predictor.active_model.artifact_load", lambda *a: calls.append(a))
    assert cache.get() is first
    assert calls == []


def test_follows_an_activation_made_elsewhere(cache, make_version):
    make_version("v1")
    assert cache.get().version.name == "v1"
    second = make_version("v2", activate=False)
    # Another process activates v2: only the database changes.
    ModelVersion.objects.update(is_active=False)
    ModelVersion.objects.filter(pk=second.pk).update(is_active=True)
    assert cache.get().version.name == "v2"


def test_waits_for_the_check_interval_unless_invalidated(cache, make_version, settings):
    settings.ACTIVE_MODEL_CHECK_SECONDS = 3600
    make_version("v1")
    assert cache.get().version.name == "v1"
    second = make_version("v2", activate=False)
    ModelVersion.objects.update(is_active=False)
    ModelVersion.objects.filter(pk=second.pk).update(is_active=True)
    assert cache.get().version.name == "v1"
    cache.invalidate()
    assert cache.get().version.name == "v2"


def test_no_active_version_is_unavailable(cache, db):
    with pytest.raises(ModelUnavailable, match="no model is active"):
        cache.get()


def test_tampered_artifact_is_refused_and_a_good_version_resumes(cache, make_version):
    bad = make_version("v1")
    path = settings.MODELS_DIR / bad.artifact_path
    path.write_bytes(path.read_bytes() + b"tampered")
    with pytest.raises(ModelUnavailable, match="v1 cannot be loaded"):
        cache.get()
    good = make_version("v2")
    assert cache.get().version == good


def test_missing_artifact_is_refused(cache, make_version):
    version = make_version("v1")
    (settings.MODELS_DIR / version.artifact_path).unlink()
    with pytest.raises(ModelUnavailable, match="cannot be loaded"):
        cache.get()


def test_services_use_the_newly_activated_version(make_version):
    make_version("v1")
    assert (
        services.prediction_create(tweet=tweet_clean(text="Flood"), source="api").model_version.name
        == "v1"
    )
    make_version("v2")
    assert (
        services.prediction_create(tweet=tweet_clean(text="Flood"), source="api").model_version.name
        == "v2"
    )


class _Trap:
    """Unpickling this makes a directory: proof that a file was unpickled."""

    def __init__(self, marker) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        import os

        return (os.mkdir, (self.marker,))


def _plant_trap(path, marker) -> None:
    import joblib

    path.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(_Trap(marker), path)


def test_a_file_dropped_into_the_models_directory_is_never_unpickled(cache, make_version, tmp_path):
    marker = tmp_path / "unpickled"
    # Named like the newest version, with no database row vouching for it.
    _plant_trap(settings.MODELS_DIR / "v99-20991231T000000.joblib", marker)
    with pytest.raises(ModelUnavailable, match="no model is active"):
        cache.get()
    make_version("v1")
    assert cache.get().version.name == "v1"
    assert (
        services.prediction_create(tweet=tweet_clean(text="Flood"), source="api").model_version.name
        == "v1"
    )
    assert not marker.exists()


def test_a_file_swapped_in_for_the_active_artifact_is_never_unpickled(
    cache, make_version, tmp_path
):
    marker = tmp_path / "unpickled"
    version = make_version("v1")
    _plant_trap(settings.MODELS_DIR / version.artifact_path, marker)
    with pytest.raises(ModelUnavailable, match="does not match its recorded SHA-256"):
        cache.get()
    assert not marker.exists()
