"""Saving models atomically and loading them only when their SHA-256 matches."""

import hashlib
import pickle

import joblib
import numpy as np
import pytest

from ml import persistence
from ml.persistence import Artifact, ArtifactError, file_sha256, load, save


@pytest.fixture(scope="module")
def saved(sample_model, tmp_path_factory) -> Artifact:
    return save(sample_model, tmp_path_factory.mktemp("models") / "new" / "dir", "sample-v1")


def test_save_writes_one_joblib_file_and_reports_its_hash(saved):
    assert saved.path.name == "sample-v1.joblib"
    assert saved.path.is_file()
    assert saved.size == saved.path.stat().st_size
    assert saved.sha256 == hashlib.sha256(saved.path.read_bytes()).hexdigest()
    assert saved.sha256 == file_sha256(saved.path)
    assert [p.name for p in saved.path.parent.iterdir()] == ["sample-v1.joblib"]


def test_round_trip_gives_the_same_probabilities(saved, sample_model, sample_data):
    loaded = load(saved.path, saved.sha256)

    columns = (sample_data.text, sample_data.keyword, sample_data.location)
    np.testing.assert_array_equal(
        loaded.predict_proba(*columns), sample_model.predict_proba(*columns)
    )
    assert loaded.predict_one("Flood warning") == pytest.approx(
        sample_model.predict_one("Flood warning")
    )
    assert loaded.threshold == sample_model.threshold
    assert loaded.validation == sample_model.validation
    assert loaded.library_versions == sample_model.library_versions


def test_loaded_model_serves_xgboost_on_one_thread(saved):
    loaded = load(saved.path, saved.sha256.upper())

    trees = loaded.pipeline.named_steps["classifier"].named_estimators_["trees"]
    booster_config = trees.named_steps["xgboost"].get_booster().save_config()
    assert trees.named_steps["xgboost"].n_jobs == 1
    assert '"nthread":"1"' in booster_config


def test_a_tampered_file_is_refused_before_unpickling(saved, tmp_path, monkeypatch):
    tampered = tmp_path / "tampered.joblib"
    content = bytearray(saved.path.read_bytes())
    content[len(content) // 2] ^= 0x01
    tampered.write_bytes(bytes(content))

    def unpickle(*args, **kwargs):
        raise AssertionError("unpickled a file whose hash did not match")

    monkeypatch.setattr(joblib, "load", unpickle)
    with pytest.raises(ArtifactError, match="does not match its recorded SHA-256"):
        load(tampered, saved.sha256)


def test_a_wrong_hash_is_refused(saved):
    with pytest.raises(ArtifactError, match="does not match its recorded SHA-256"):
        load(saved.path, "0" * 64)


def test_a_missing_file_is_refused(tmp_path):
    missing = tmp_path / "gone.joblib"

    with pytest.raises(ArtifactError) as raised:
        load(missing, "0" * 64)

    assert str(raised.value) == f"no such artifact: {missing}"


def test_a_file_that_is_not_a_trained_model_is_refused(tmp_path):
    path = tmp_path / "other.joblib"
    joblib.dump({"not": "a model"}, path)

    with pytest.raises(ArtifactError, match="holds a dict, not a TrainedModel"):
        load(path, file_sha256(path))


def test_a_file_that_does_not_unpickle_is_refused(tmp_path):
    path = tmp_path / "junk.joblib"
    path.write_bytes(pickle.dumps(1)[:-3])

    with pytest.raises(ArtifactError, match="cannot unpickle artifact"):
        load(path, file_sha256(path))


def test_a_failed_save_leaves_neither_a_file_nor_a_temporary(sample_model, tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(persistence.joblib, "dump", fail)
    with pytest.raises(OSError, match="disk full"):
        save(sample_model, tmp_path, "broken")

    assert list(tmp_path.iterdir()) == []


def test_saving_again_replaces_the_file(sample_model, tmp_path):
    first = save(sample_model, tmp_path, "same")
    second = save(sample_model, tmp_path, "same")

    assert second.path == first.path
    assert [p.name for p in tmp_path.iterdir()] == ["same.joblib"]


@pytest.mark.parametrize("name", ["", "../escape", "a/b", ".hidden"])
def test_names_must_be_plain_file_names(sample_model, tmp_path, name):
    with pytest.raises(ValueError, match="plain file name"):
        save(sample_model, tmp_path, name)


def test_an_artifact_saved_when_trained_model_lived_in_ml_train_still_loads(sample_model, tmp_path):
    # Pickles name a class by module and name; artifacts made before ml.model existed say
    # ml.train.TrainedModel, and deployed instances still hold such files.
    path = tmp_path / "old.joblib"
    joblib.dump(sample_model, path)
    old = path.read_bytes().replace(b"ml.model", b"ml.train")
    assert old != path.read_bytes()
    path.write_bytes(old)

    loaded = load(path, hashlib.sha256(old).hexdigest())

    assert loaded.predict_one("Flood warning") == pytest.approx(
        sample_model.predict_one("Flood warning")
    )
