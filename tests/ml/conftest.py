"""Data sets and models trained once per test session for the ml tests."""

import os
from pathlib import Path

import pytest

from ml.data import Dataset, read_csv
from ml.model import TrainedModel
from ml.train import train

REPO = Path(__file__).resolve().parents[2]
SAMPLE_DATA = REPO / "data" / "sample_tweets.csv"
SHARED_DATA = REPO.parent / "shared" / "data" / "train.csv"


def shared_data_path() -> Path | None:
    """The real data set, if present: $TRAIN_DATA when set, else ../shared/data/train.csv."""
    path = Path(os.environ["TRAIN_DATA"]) if os.environ.get("TRAIN_DATA") else SHARED_DATA
    return path if path.is_file() else None


@pytest.fixture(scope="session")
def sample_data() -> Dataset:
    return read_csv(SAMPLE_DATA)


@pytest.fixture(scope="session")
def sample_model(sample_data: Dataset) -> TrainedModel:
    return train(sample_data, n_jobs=1)


@pytest.fixture(scope="session")
def shared_data() -> Dataset:
    path = shared_data_path()
    if path is None:
        pytest.skip(f"the real data set is not here ({SHARED_DATA}; set TRAIN_DATA to point at it)")
    return read_csv(path)


@pytest.fixture(scope="session")
def shared_model(shared_data: Dataset) -> TrainedModel:
    """Trained once per session on the whole real data set, the way production trains."""
    return train(shared_data)
