"""Artifacts shared through the database (MODEL_STORE=database) and checked on every fetch."""

import pytest
from django.conf import settings as django_settings

from ml.persistence import ArtifactError
from predictor import services
from predictor.active_model import _ActiveModelCache
from predictor.artifact_store import artifact_local_file, artifact_path
from predictor.models import ModelArtifact

pytestmark = pytest.mark.django_db


@pytest.fixture
def database_store(settings):
    settings.MODEL_STORE = "database"


def test_filesystem_store_keeps_bytes_out_of_the_database(settings):
    settings.MODEL_STORE = "filesystem"
    services.model_version_train(data_path=django_settings.SAMPLE_TRAIN_DATA)
    assert ModelArtifact.objects.count() == 0


def test_database_store_lets_another_instance_load_a_version_it_lacks(database_store):
    version = services.model_version_train(data_path=django_settings.SAMPLE_TRAIN_DATA)
    stored = ModelArtifact.objects.get(version=version)
    local = artifact_path(version)
    assert bytes(stored.data) == local.read_bytes()

    local.unlink()  # another instance: same database, empty model directory
    assert _ActiveModelCache().get().version == version
    assert local.is_file()


def test_database_store_refuses_tampered_bytes(database_store):
    version = services.model_version_train(data_path=django_settings.SAMPLE_TRAIN_DATA)
    artifact_path(version).unlink()
    ModelArtifact.objects.filter(version=version).update(data=b"not the model")
    with pytest.raises(ArtifactError, match="does not match"):
        artifact_local_file(version)


def test_missing_everywhere_is_a_clear_error(database_store):
    version = services.model_version_train(data_path=django_settings.SAMPLE_TRAIN_DATA)
    artifact_path(version).unlink()
    ModelArtifact.objects.all().delete()
    with pytest.raises(ArtifactError, match="missing"):
        artifact_local_file(version)


def test_a_load_error_names_the_version_not_the_server_s_paths(make_version):
    from predictor.artifact_store import artifact_load

    version = make_version("v1")
    path = artifact_path(version)
    path.write_bytes(path.read_bytes() + b"tampered")
    with pytest.raises(ArtifactError) as raised:
        artifact_load(version)
    message = str(raised.value)
    assert message.startswith("artifact of v1 does not match its recorded SHA-256")
    assert str(path.parent) not in message
