"""Training on the bundled sample and on tiny data sets."""

import numpy as np
import pytest
from sklearn.pipeline import Pipeline
from xgboost import XGBClassifier

from ml.data import Dataset, DatasetError
from ml.evaluate import Metrics, evaluate
from ml.groups import group_ids
from ml.model import TrainedModel
from ml.train import out_of_fold_splits, train


def test_sample_model_has_a_threshold_metrics_and_provenance(sample_model, sample_data):
    assert isinstance(sample_model, TrainedModel)
    assert isinstance(sample_model.pipeline, Pipeline)
    assert 0 < sample_model.threshold < 1
    assert isinstance(sample_model.validation, Metrics)
    assert sample_model.validation.threshold == sample_model.threshold
    # Out-of-fold: every row is scored once, by a model fitted on the other folds.
    assert sample_model.validation.n == len(sample_data)
    assert sample_model.validation.roc_auc is not None
    assert sample_model.n_rows == len(sample_data)
    assert sample_model.train_seconds > 0
    assert set(sample_model.library_versions) == {"python", "sklearn", "xgboost", "numpy", "scipy"}


def test_pipeline_contains_xgboost_set_to_predict_on_one_thread(sample_model):
    steps = sample_model.pipeline.named_steps
    xgboost = steps["classifier"].named_estimators_["trees"].named_steps["xgboost"]

    assert isinstance(xgboost, XGBClassifier)
    assert xgboost.n_jobs == 1
    assert steps["features"].n_features_in_ == 3


def test_sample_model_tells_disasters_from_figures_of_speech(sample_model):
    def is_disaster(text: str, keyword: str = "") -> bool:
        return sample_model.predict_one(text, keyword) >= sample_model.threshold

    assert is_disaster("Forest fire near La Ronge Sask. Canada")
    assert is_disaster("Earthquake destroyed buildings downtown, dozens injured")
    assert not is_disaster("this mixtape is fire", "fire")
    assert not is_disaster("my inbox is a disaster", "disaster")


def test_predict_proba_gives_one_probability_per_tweet(sample_model):
    proba = sample_model.predict_proba(["Flood!", "Cake"], ["flood", ""], ["", "Paris"])

    assert proba.shape == (2,)
    assert np.all((proba >= 0) & (proba <= 1))


def test_training_is_reproducible_with_a_seed(sample_data):
    small = Dataset.from_rows(sample_data.rows()[:60])

    first, second = train(small, seed=7, n_jobs=1), train(small, seed=7, n_jobs=1)

    assert first.threshold == second.threshold
    assert first.validation == second.validation
    np.testing.assert_array_equal(
        first.predict_proba(small.text, small.keyword, small.location),
        second.predict_proba(small.text, small.keyword, small.location),
    )


@pytest.mark.parametrize("n_rows", [50, 12])
def test_tiny_data_sets_train(sample_data, n_rows):
    rows = sample_data.rows()
    positives = [row for row in rows if row[3] == 1][: n_rows // 2]
    negatives = [row for row in rows if row[3] == 0][: n_rows - len(positives)]

    model = train(Dataset.from_rows(positives + negatives), n_jobs=1)

    assert 0 < model.threshold < 1
    assert model.n_rows == n_rows
    assert model.validation.n == n_rows
    assert 0 <= model.predict_one("Flash flood warning for the county") <= 1


def test_training_checks_the_data_first():
    with pytest.raises(DatasetError, match="needs both classes"):
        train(Dataset.from_rows([("a flood", "", "", 1), ("a fire", "", "", 1)]))


def test_data_too_poor_to_build_a_vocabulary_is_a_dataset_error():
    rows = [("alpha", "", "", 1), ("beta", "", "", 1), ("gamma", "", "", 0), ("delta", "", "", 0)]

    with pytest.raises(DatasetError, match="cannot train on these 4 rows"):
        train(Dataset.from_rows(rows), n_jobs=1)


def test_folds_must_be_at_least_two(sample_data):
    with pytest.raises(ValueError, match="folds"):
        train(sample_data, folds=1)


def test_validation_is_out_of_fold_so_below_the_fit_on_its_own_rows(sample_model, sample_data):
    fitted = evaluate(sample_model, sample_data)

    # Scored in-sample, the final model would look near perfect; out-of-fold it cannot.
    assert sample_model.validation.f1 < fitted.f1 - 0.05


@pytest.mark.parametrize("n_rows", [209, 40, 12])
def test_out_of_fold_splits_predict_each_row_once_and_keep_copies_together(sample_data, n_rows):
    rows = sample_data.rows()[:n_rows]
    # Copies of the first tweets, differing only in a link and a number.
    copies = [(f"{row[0]} http://t.co/{i} {i}", *row[1:]) for i, row in enumerate(rows[:6])]
    data = Dataset.from_rows(rows + copies)
    groups = group_ids(data.text)
    target = np.asarray(data.target)

    splits = out_of_fold_splits(data, seed=3)

    predicted = np.concatenate([predict for _, predict in splits])
    assert sorted(predicted.tolist()) == list(range(len(data)))
    for fit, predict in splits:
        assert not set(groups[fit].tolist()) & set(groups[predict].tolist())
        assert set(target[fit].tolist()) == {0, 1}
    assert len(splits) == 3


def test_two_rows_of_a_class_give_two_folds_each_fitting_on_both_classes():
    rows = [("fire", "", "", 1), ("Fire!", "", "", 1), ("cake", "", "", 0), ("tea", "", "", 0)]

    splits = out_of_fold_splits(Dataset.from_rows(rows), seed=3)

    # Keeping the two copies of "fire" together would leave a fold with no positive to fit on.
    assert len(splits) == 2
    for fit, _ in splits:
        assert sorted(rows[i][3] for i in fit) == [0, 1]


@pytest.mark.parametrize(("folds", "n_jobs"), [(3, 1), (4, 2)])
def test_each_fit_reports_when_it_is_done(sample_data, folds, n_jobs):
    reports: list[tuple[int, int]] = []

    train(
        Dataset.from_rows(sample_data.rows()[:60]),
        folds=folds,
        n_jobs=n_jobs,
        on_fit_done=lambda done, total: reports.append((done, total)),
    )

    # The folds' fits and the final fit on all rows, counted in the order they end.
    assert reports == [(done, folds + 1) for done in range(1, folds + 2)]
