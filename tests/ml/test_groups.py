"""Near-duplicate groups and the grouped, stratified evaluation split."""

import numpy as np
import pytest

from ml.data import Dataset, DatasetError
from ml.groups import evaluation_split, group_ids, group_key, rows_apart_from


def test_group_key_drops_urls_mentions_digits_and_punctuation():
    first = "BREAKING: 40 dead in #flood!! http://t.co/AbC123 via @news_bot"
    second = "breaking 7 dead in flood https://t.co/xyz via @Other"

    assert group_key(first) == "breaking dead in flood via"
    assert group_key(second) == group_key(first)


def test_group_key_keeps_words_apart():
    assert group_key("fire.in the hole") == "fire in the hole"
    assert group_key("Forest fire") != group_key("Forest fires")


def test_texts_with_an_empty_key_are_groups_of_their_own():
    groups = group_ids(["@a http://t.co/1", "@b http://t.co/2", "Fire!", "fire"])

    assert groups[0] != groups[1]
    assert groups[2] == groups[3]
    assert len(set(groups.tolist())) == 3


def _constructed_data() -> Dataset:
    """100 rows: 40 positive; 10 groups of 4 near-duplicates (mixed labels in two of them)."""
    rows = []
    for group in range(10):
        for copy in range(4):
            label = 1 if group < 4 or (group >= 8 and copy == 0) else 0
            rows.append((f"story {chr(97 + group)} http://t.co/{copy} #{copy}", "", "", label))
    for single in range(60):
        words = f"{chr(97 + single % 26)}{chr(97 + single // 26)} tweet"
        rows.append((words, "", "", 1 if single < 22 else 0))
    return Dataset.from_rows(rows)


def _assert_no_group_on_both_sides(data: Dataset, train: np.ndarray, evaluation: np.ndarray):
    groups = group_ids(data.text)
    assert not set(groups[train].tolist()) & set(groups[evaluation].tolist())


def test_split_is_a_partition_that_keeps_groups_together():
    data = _constructed_data()

    train, evaluation = evaluation_split(data, seed=3)

    assert sorted(np.concatenate([train, evaluation]).tolist()) == list(range(len(data)))
    _assert_no_group_on_both_sides(data, train, evaluation)
    assert 10 <= len(evaluation) <= 30


def test_split_is_deterministic_for_a_seed_and_depends_on_it():
    data = _constructed_data()

    first, second = evaluation_split(data, seed=5), evaluation_split(data, seed=5)
    splits = {tuple(evaluation_split(data, seed=seed)[1].tolist()) for seed in range(5)}

    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    assert len(splits) > 1


def test_share_sets_the_size_of_the_evaluation_side():
    data = _constructed_data()

    assert len(evaluation_split(data, share=0.5)[1]) == pytest.approx(50, abs=4)
    assert len(evaluation_split(data, share=0.1)[1]) == pytest.approx(10, abs=4)


@pytest.mark.parametrize("share", [0.0, 1.0])
def test_share_must_be_a_fraction(share):
    with pytest.raises(ValueError, match="share"):
        evaluation_split(_constructed_data(), share=share)


def test_a_toy_data_set_gets_a_plain_stratified_split():
    # Two groups only: grouped folds are impossible, a plain stratified split still holds out
    # a fifth of each class.
    rows = [(f"calm day number {i}", "", "", 0) for i in range(10)]
    rows += [(f"big quake number {i}", "", "", 1) for i in range(10)]
    train_rows, evaluation_rows = evaluation_split(Dataset.from_rows(rows))
    assert sorted([*train_rows, *evaluation_rows]) == list(range(20))
    assert sorted(Dataset.from_rows(rows).subset(evaluation_rows).target) == [0, 0, 1, 1]


def test_too_few_rows_to_hold_any_out_is_a_dataset_error():
    rows = [("same fire", "", "", 1), ("Same fire!", "", "", 0), ("flood", "", "", 1)]
    with pytest.raises(DatasetError, match="too few rows"):
        evaluation_split(Dataset.from_rows(rows))


@pytest.mark.slow
def test_shared_data_has_near_duplicate_groups(shared_data):
    _, counts = np.unique(group_ids(shared_data.text), return_counts=True)

    # About 350 groups of copies covering about 15% of the rows (346 and 1,132 rows measured).
    assert 300 <= (counts > 1).sum() <= 400
    assert 0.12 <= counts[counts > 1].sum() / len(shared_data) <= 0.18


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 42])
def test_shared_data_split_is_grouped_and_stratified(shared_data, seed):
    train, evaluation = evaluation_split(shared_data, seed=seed)
    target = np.asarray(shared_data.target)

    _assert_no_group_on_both_sides(shared_data, train, evaluation)
    assert len(evaluation) == pytest.approx(0.2 * len(shared_data), rel=0.05)
    assert target[evaluation].mean() == pytest.approx(target.mean(), abs=0.01)
    assert target[train].mean() == pytest.approx(target.mean(), abs=0.01)


def test_rows_apart_from_drops_copies_of_held_out_rows_only():
    data = Dataset.from_rows(
        [
            ("Fire in town http://t.co/a", "", "", 1),
            ("fire in TOWN!! http://t.co/b @news", "", "", 1),
            ("Sunny day", "", "", 0),
            ("http://t.co/only-a-link", "", "", 0),
        ]
    )
    held_out = Dataset.from_rows([("Fire in town 2", "", "", 1), ("http://t.co/x", "", "", 0)])
    # Both copies of the fire tweet go; a row with an empty key (only a link) is nobody's copy.
    assert rows_apart_from(data, held_out) == [2, 3]
