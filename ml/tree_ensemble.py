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


class TreeContributions:
    """XGBoost's `pred_contribs` (path-dependent TreeSHAP) for one row, with numpy.

    In path-dependent TreeSHAP a leaf's share of E[tree | the features in S] is its value times,
    for each distinct feature on its path, 1 or 0 (whether the row follows the path at that
    feature's nodes) when the feature is in S, else the fraction of the training cover that
    went the path's way there. That product is a game on at most `depth` players whose Shapley
    values depend on the row only through those 0/1 bits: so they are tabulated once per leaf
    for every pattern of bits, and a row costs one walk over the nodes and a table lookup.
    tests/ml/test_tree_ensemble.py checks them against XGBoost's on whole data sets.
    """

    def __init__(self, booster: xgboost.Booster) -> None:
        model = json.loads(booster.save_raw("json"))["learner"]
        ensemble = TreeEnsemble(booster)  # the checks, the base margin, the flat node arrays
        self.base_margin = ensemble.base_margin
        self._feature, self._split = ensemble.feature, ensemble.split
        self._default_left = ensemble.default_left
        self.n_features = int(model["learner_model_param"]["num_feature"])
        trees = model["gradient_booster"]["model"]["trees"]
        depth = max(ensemble.depth, 1)

        leaves: list[tuple[float, list[tuple[int, bool]], list[int], list[float]]] = []
        expected = 0.0
        offset = 0
        for tree in trees:
            left, right = tree["left_children"], tree["right_children"]
            cover, value = tree["sum_hessian"], tree["split_conditions"]
            features = tree["split_indices"]
            # Depth-first over the tree: (node, path of (global node, went left), slots).
            stack: list[tuple[int, list[tuple[int, bool]], dict[int, float]]] = [(0, [], {})]
            while stack:
                node, path, zero = stack.pop()
                if left[node] == -1:
                    slots = list(zero)
                    leaves.append((value[node], path, slots, [zero[f] for f in slots]))
                    expected += value[node] * math.prod(zero.values())
                    continue
                for child, went_left in ((left[node], True), (right[node], False)):
                    share = {**zero}
                    feature = features[node]
                    share[feature] = share.get(feature, 1.0) * cover[child] / cover[node]
                    stack.append((child, [*path, (node + offset, went_left)], share))
            offset += len(left)
        self.bias = self.base_margin + expected

        n = len(leaves)
        # Per leaf: the nodes on its path, the way it goes at each, the slot (distinct feature)
        # each node belongs to, and each slot's feature.
        self._path_node = np.zeros((n, depth), dtype=np.int64)
        self._path_left = np.zeros((n, depth), dtype=bool)
        self._path_bit = np.zeros((n, depth), dtype=np.int64)  # 0 for padding: never fails
        self._slot_feature = np.full((n, depth), -1, dtype=np.int64)
        zero = np.ones((n, depth))
        size = np.zeros(n, dtype=np.int64)
        value = np.zeros(n)
        for i, (leaf_value, path, slots, fractions) in enumerate(leaves):
            value[i], size[i] = leaf_value, len(slots)
            self._slot_feature[i, : len(slots)] = slots
            zero[i, : len(slots)] = fractions
            for k, (node, went_left) in enumerate(path):
                self._path_node[i, k], self._path_left[i, k] = node, went_left
                self._path_bit[i, k] = 1 << slots.index(self._feature[node])
        self._full = (1 << size) - 1
        table = _shapley_table(value, zero, size, depth)
        # The used (leaf, slot) cells, flat: where each one's row of the table starts, and the
        # step from one bit pattern to the next.
        used = self._slot_feature >= 0
        self._used_leaf = np.nonzero(used)[0]
        self._used_feature = self._slot_feature[used]
        self._used_start = np.flatnonzero(used.ravel()) % depth + self._used_leaf * table[0].size
        self._pattern_step = depth
        self._table = table.ravel()
        # The decision at each path node, looked up once per internal node per row.
        internal = np.unique(self._path_node[self._path_bit > 0])
        self._internal = internal
        self._path_position = np.searchsorted(internal, self._path_node)
        self._path_position[self._path_bit == 0] = 0

    def contributions(self, row: np.ndarray) -> np.ndarray:
        """Per feature of a dense float32 row (NaN = missing), its SHAP value on the margin."""
        nodes = self._internal
        value = row[self._feature[nodes]]
        go_left = np.where(np.isnan(value), self._default_left[nodes], value < self._split[nodes])
        follows = go_left[self._path_position] == self._path_left
        failing = np.where(follows, 0, self._path_bit)
        failed = failing[:, 0]
        for k in range(1, failing.shape[1]):
            failed = failed | failing[:, k]
        pattern = (self._full & ~failed)[self._used_leaf]
        shares = self._table[self._used_start + pattern * self._pattern_step]
        return np.bincount(self._used_feature, weights=shares, minlength=self.n_features)


def _shapley_table(value: np.ndarray, zero: np.ndarray, size: np.ndarray, depth: int) -> np.ndarray:
    """table[leaf, bits, slot]: the Shapley value of `slot` in the leaf's game when the row
    follows the path at the slots whose bit is set: value * (o_s - z_s) * the sum over subsets S
    of the other slots of |S|!(d-|S|-1)!/d! * (product of o over S) * (product of z over the
    rest), o the bits, z the slots' cover fractions."""
    n = len(value)
    table = np.zeros((n, 1 << depth, depth))
    for d in range(1, depth + 1):
        leaves = np.flatnonzero(size == d)
        if not len(leaves):
            continue
        z = zero[leaves]
        weights = [
            math.factorial(k) * math.factorial(d - k - 1) / math.factorial(d) for k in range(d)
        ]
        for bits in range(1 << d):
            one = [(bits >> s) & 1 for s in range(d)]
            for slot in range(d):
                others = [s for s in range(d) if s != slot]
                total = np.zeros(len(leaves))
                for mask in range(1 << len(others)):
                    chosen = [s for j, s in enumerate(others) if (mask >> j) & 1]
                    if any(not one[s] for s in chosen):
                        continue  # a feature in S that the row does not follow: product 0
                    product = np.ones(len(leaves))
                    for s in others:
                        if s not in chosen:
                            product = product * z[:, s]
                    total += weights[len(chosen)] * product
                table[leaves, bits, slot] = value[leaves] * (one[slot] - z[:, slot]) * total
    return table
