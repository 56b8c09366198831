"""Labels that look wrong: out-of-fold probabilities, confident learning's thresholds and flags,
and the suspicion ranking on planted errors."""

import random

import numpy as np
import pytest

from ml.data import Dataset, DatasetError
from ml.evaluate import score
from ml.groups import group_ids
from ml.label_issues import (
    ADJUSTED_CONFIDENCE,
    SELF_CONFIDENCE,
    confident_joint,
    confident_label,
    label_issues_find,
    per_class_thresholds,
    suspicion_scores,
)
from ml.train import out_of_fold_probabilities, out_of_fold_splits, train

DISASTER_WORDS = "fire flood earthquake wildfire evacuated injured collapsed storm rescue smoke"
CALM_WORDS = "cake party holiday music lovely sunny garden coffee puppy movie"


def constructed(n_per_class: int = 40, *, flip: tuple[int, ...] = ()) -> Dataset:
    """Tweets made of one class's words (so the classes separate cleanly), labels of the rows in
    `flip` flipped. Deterministic."""
    rng = random.Random(3)
    rows = []
    for label, words in ((1, DISASTER_WORDS.split()), (0, CALM_WORDS.split())):
        for i in range(n_per_class):
            text = " ".join(rng.sample(words, 5)) + f" number{i}x{label}"
            rows.append((text, "", "", label))
    rows = [(*row[:3], 1 - row[3]) if i in flip else row for i, row in enumerate(rows)]
    return Dataset.from_rows(rows)


PLANTED = (3, 17, 52)


@pytest.fixture(scope="module")
def planted_issues():
    data = constructed(flip=PLANTED)
    return data, label_issues_find(data, folds=4, n_jobs=1)


def test_planted_errors_on_constructed_data_are_flagged_and_ranked_first(planted_issues):
    data, issues = planted_issues

    assert set(issues.ranking()[: len(PLANTED)].tolist()) == set(PLANTED)
    assert set(np.flatnonzero(issues.flagged).tolist()) == set(PLANTED)
    # Scored by a model that never saw the flipped label: it still says the true class.
    for row in PLANTED:
        true_class = 1 - data.target[row]
        assert (issues.probability[row] >= 0.5) == bool(true_class)
    assert np.all((issues.suspicion >= 0) & (issues.suspicion <= 1))


def test_every_row_is_scored_once_by_a_fold_model_that_did_not_fit_on_it(planted_issues):
    data, issues = planted_issues
    splits = out_of_fold_splits(data, folds=4, seed=42)

    predicted = np.concatenate([predict_rows for _, predict_rows in splits])
    assert sorted(predicted.tolist()) == list(range(len(data)))
    for index, (fit_rows, predict_rows) in enumerate(splits):
        assert np.all(issues.fold[predict_rows] == index)
        assert not set(fit_rows.tolist()) & set(predict_rows.tolist())


def test_near_duplicates_are_scored_in_one_fold():
    base = constructed()
    copies = [
        ("Wildfire near the dam http://t.co/abc @news", "", "", 1),
        ("wildfire near the dam!! http://t.co/xyz", "", "", 0),
        ("WILDFIRE near the dam 2", "", "", 1),
    ]
    data = Dataset.from_rows(base.rows() + copies)

    issues = label_issues_find(data, folds=4, n_jobs=1)

    copy_rows = range(len(base), len(data))
    assert len(set(group_ids(data.text)[list(copy_rows)].tolist())) == 1
    assert len({int(issues.fold[row]) for row in copy_rows}) == 1


def test_thresholds_are_the_mean_probability_of_its_class_over_rows_labelled_with_it():
    probability = np.array([0.9, 0.7, 0.2, 0.4, 0.1])
    target = np.array([1, 1, 0, 0, 0])

    t_not, t_disaster = per_class_thresholds(probability, target)

    assert t_disaster == pytest.approx((0.9 + 0.7) / 2)
    assert t_not == pytest.approx((0.8 + 0.6 + 0.9) / 3)


def test_thresholds_need_both_classes():
    with pytest.raises(ValueError, match="both classes"):
        per_class_thresholds(np.array([0.2, 0.3]), np.array([0, 0]))


def test_confident_label_is_the_likeliest_class_at_or_above_its_threshold():
    thresholds = (0.7, 0.6)  # P(not) >= 0.7, P(disaster) >= 0.6
    probability = np.array([0.65, 0.2, 0.35, 0.6])
    # 0.65: P(d) .65 >= .6 only -> 1; 0.2: P(not) .8 >= .7 -> 0; 0.35: neither (.65 < .7,
    # .35 < .6) -> -1; 0.6: P(d) .6 >= .6, P(not) .4 < .7 -> 1.
    assert confident_label(probability, thresholds).tolist() == [1, 0, -1, 1]
    # Both above: the likelier wins.
    assert confident_label(np.array([0.45]), (0.5, 0.4)).tolist() == [0]


def test_confident_joint_counts_given_against_confident_labels():
    probability = np.array([0.9, 0.8, 0.1, 0.85, 0.5])
    target = np.array([1, 1, 0, 0, 1])

    joint = confident_joint(probability, target, (0.6, 0.7))

    # Row 3 is labelled 0 but confidently 1: the off-diagonal cell; row 4 has no confident label.
    assert joint.tolist() == [[1, 1], [0, 2]]


def test_suspicion_is_one_minus_the_given_labels_probability():
    probability = np.array([0.9, 0.9, 0.3])
    target = np.array([1, 0, 0])

    scores = suspicion_scores(probability, target, (0.5, 0.5), method=SELF_CONFIDENCE)

    assert scores.tolist() == pytest.approx([0.1, 0.9, 0.3])


def test_adjusted_suspicion_divides_by_the_class_thresholds():
    scores = suspicion_scores(
        np.array([0.6]), np.array([0]), (0.8, 0.4), method=ADJUSTED_CONFIDENCE
    )

    # P(not) 0.4 / 0.8 = 0.5, P(disaster) 0.6 / 0.4 = 1.5: the label's share is 0.25.
    assert scores.tolist() == pytest.approx([0.75])


def test_unknown_suspicion_method_is_refused():
    with pytest.raises(ValueError, match="method must be one of"):
        suspicion_scores(np.array([0.5]), np.array([1]), (0.5, 0.5), method="margin")
    with pytest.raises(ValueError, match="method must be one of"):
        label_issues_find(constructed(), method="margin")


def test_too_few_rows_are_a_dataset_error():
    with pytest.raises(DatasetError, match="at least 2 rows of each class"):
        label_issues_find(Dataset.from_rows([("fire", "", "", 1), ("cake", "", "", 0)] * 1))


def test_out_of_fold_probabilities_are_the_ones_training_validates_on(sample_data):
    small = Dataset.from_rows(sample_data.rows()[:120])

    probability = out_of_fold_probabilities(small, folds=3, seed=5, n_jobs=2)
    model = train(small, folds=3, seed=5, n_jobs=2)

    assert model.validation == score(np.asarray(small.target), probability, model.threshold)


def test_planted_errors_rank_high_on_the_real_data(shared_data):
    rng = np.random.default_rng(11)
    rows = [shared_data.rows()[i] for i in rng.choice(len(shared_data), 2000, replace=False)]
    flipped = set(rng.choice(len(rows), 100, replace=False).tolist())
    rows = [(*row[:3], 1 - row[3]) if i in flipped else row for i, row in enumerate(rows)]

    issues = label_issues_find(Dataset.from_rows(rows), folds=3, n_jobs=2)

    top = issues.ranking()[:100].tolist()
    precision = len(flipped & set(top)) / 100
    found = len(flipped & set(np.flatnonzero(issues.flagged).tolist()))
    print(f"precision@100 {precision:.2f}, planted flagged {found} of 100")
    # Chance is 5% (100 of 2,000 flipped); the real labels have errors of their own, and a model
    # fitted on 1,333 rows is weaker than the product's (0.25 measured).
    assert precision >= 0.15, precision
    assert found >= 40, found
