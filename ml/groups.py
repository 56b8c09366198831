"""Near-duplicate tweets as groups, and splits that never put one group on both sides.

Retweets and bot copies differ only in URLs, @mentions, numbers and punctuation; a random split
puts copies on both sides and every figure measured on it comes out too good.
"""

import re
from collections.abc import Sequence

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold, StratifiedShuffleSplit

from ml.data import Dataset, DatasetError

_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_MENTION = re.compile(r"@\w+")
# Anything but a letter: punctuation, digits, the underscore (\w counts it as a letter).
_NOT_LETTER = re.compile(r"[\W\d_]+")


def group_key(text: str) -> str:
    """``text`` lower-cased without URLs, @mentions, digits and punctuation, spaces collapsed."""
    text = _MENTION.sub(" ", _URL.sub(" ", text.lower()))
    return " ".join(_NOT_LETTER.sub(" ", text).split())


def group_ids(texts: Sequence[str]) -> np.ndarray:
    """An integer group per text: equal ids for equal `group_key`, numbered by first appearance.

    A text whose key is empty (nothing but links and mentions) is a group of its own: such
    tweets have nothing in common to leak.
    """
    ids: dict[str, int] = {}
    groups = np.empty(len(texts), dtype=np.int64)
    for row, text in enumerate(texts):
        key = group_key(text)
        if not key:
            key = f"\0{row}"  # cannot collide with a real key: those hold letters and spaces only
        groups[row] = ids.setdefault(key, len(ids))
    return groups


def evaluation_split(
    data: Dataset, *, share: float = 0.2, seed: int = 42
) -> tuple[np.ndarray, np.ndarray]:
    """Row indices ``(train, evaluation)``: about ``share`` of the rows, stratified by label.

    Near-duplicates (equal `group_key`) stay together on one side. The evaluation side is one
    fold of ``round(1 / share)`` stratified, grouped folds, so the same seed gives the same split.
    Both index arrays are sorted.
    """
    if not 0 < share < 1:
        raise ValueError(f"share must be between 0 and 1, got {share}")
    n_folds = max(2, round(1 / share))
    groups = group_ids(data.text)
    target = np.asarray(data.target, dtype=np.int64)
    if len(np.unique(groups)) >= n_folds and np.bincount(target, minlength=2).min() >= n_folds:
        grouped = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
        train_rows, evaluation_rows = next(grouped.split(groups, target, groups))
    else:
        # Too few distinct texts or rows of a class for grouped folds (a toy data set): a plain
        # stratified split, which cannot keep near-duplicates apart.
        plain = StratifiedShuffleSplit(n_splits=1, test_size=share, random_state=seed)
        try:
            train_rows, evaluation_rows = next(plain.split(groups, target))
        except ValueError as error:
            raise DatasetError(f"too few rows to hold out an evaluation set: {error}") from None
    return np.sort(train_rows), np.sort(evaluation_rows)


def rows_apart_from(data: Dataset, held_out: Dataset) -> list[int]:
    """Indices of ``data``'s rows whose `group_key` is none of ``held_out``'s: nothing a model
    trains on may be a near-copy of a row it is evaluated on."""
    keys = {group_key(text) for text in held_out.text} - {""}
    return [i for i, text in enumerate(data.text) if group_key(text) not in keys]
