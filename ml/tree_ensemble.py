"""A fitted XGBoost binary classifier as flat numpy arrays, for scoring one row in microseconds.

`Booster.inplace_predict` has a fixed cost per call however small the input (argument checks,
a C call, array conversion); walking every tree at once with numpy over one feature row costs a
fraction of it (docs/performance.md). The arrays come from the booster's own JSON model, and
XGBoost's rules are kept: features compared as float32 with `value < split`, a missing value
follows the node's default direction. tests/ml/test_tree_ensemble.py checks the margins against
XGBoost's.
"""

from __future__ import annotations

import json
import math

import numpy as np
import xgboost


class UnsupportedModel(TypeError):
    """A booster this module cannot reproduce exactly (not gbtree binary:logistic, categories)."""


class TreeEnsemble:
    """The trees of a binary:logistic gbtree booster, every node of every tree in flat arrays."""

    def __init__(self, booster: xgboost.Booster) -> None:
        model = json.loads(booster.save_raw("json"))["learner"]
        if model["objective"]["name"] != "binary:logistic":
            raise UnsupportedModel(f"objective {model['objective']['name']} is not supported")
        if model["gradient_booster"]["name"] != "gbtree":
            raise UnsupportedModel("only the gbtree booster is supported")
        trees = model["gradient_booster"]["model"]["trees"]
        base_score = float(model["learner_model_param"]["base_score"].strip("[]"))
        self.base_margin = math.log(base_score / (1.0 - base_score))

        feature, split, left, right, default_left, roots = [], [], [], [], [], []
        offset = 0
        depth = 0
        for tree in trees:
            if any(tree["split_type"]):
                raise UnsupportedModel("categorical splits are not supported")
            n = len(tree["left_children"])
            tree_left = np.asarray(tree["left_children"], dtype=np.int64)
            tree_right = np.asarray(tree["right_children"], dtype=np.int64)
            leaf = tree_left == -1
            # A leaf points at itself, so walking past the bottom of a shallow tree is harmless.
            own = np.arange(n) + offset
            left.append(np.where(leaf, own, tree_left + offset))
            right.append(np.where(leaf, own, tree_right + offset))
            feature.append(np.where(leaf, 0, np.asarray(tree["split_indices"], dtype=np.int64)))
            # For a leaf, split_conditions holds the leaf's value.
            split.append(np.asarray(tree["split_conditions"], dtype=np.float32))
            default_left.append(np.asarray(tree["default_left"], dtype=bool))
            roots.append(offset)
            depth = max(depth, _depth(tree_left, tree_right))
            offset += n
        self.feature = np.concatenate(feature)
        self.split = np.concatenate(split)
        self.left = np.concatenate(left)
        self.right = np.concatenate(right)
        self.default_left = np.concatenate(default_left)
        self.is_leaf = self.left == np.arange(offset)
        self.roots = np.asarray(roots, dtype=np.int64)
        self.depth = depth

    def margin(self, row: np.ndarray) -> float:
        """The raw score of one dense float32 row, NaN where a value is missing."""
        node = self.roots
        for _ in range(self.depth):
            value = row[self.feature[node]]
            missing = np.isnan(value)
            go_left = np.where(missing, self.default_left[node], value < self.split[node])
            node = np.where(go_left, self.left[node], self.right[node])
        return self.base_margin + float(self.split[node].sum(dtype=np.float64))

    def probability(self, row: np.ndarray) -> float:
        """P(class 1) of one dense float32 row, as `predict_proba` gives it."""
        margin = self.margin(row)
        if margin >= 0:
            return 1.0 / (1.0 + math.exp(-margin))
        exp = math.exp(margin)
        return exp / (1.0 + exp)


def _depth(left: np.ndarray, right: np.ndarray) -> int:
    """Edges on the longest root-to-leaf path."""
    depth, frontier = 0, [0]
    while True:
        children = [c for node in frontier for c in (left[node], right[node]) if c != -1]
        if not children:
            return depth
        depth, frontier = depth + 1, children
