"""Explanations must add up exactly and rank their terms: checked on every row of whole data sets
against the pipeline's own probabilities and each member's own margins."""

import re

import numpy as np
import pytest
import xgboost

from ml.explain import ABSENT_TERM, TOP_TERMS, explain
from ml.persistence import load, save
from ml.pipeline import input_matrix
from ml.text import clean_text


def _members_margins(model, data) -> tuple[np.ndarray, np.ndarray]:
    """The logistic regression's and XGBoost's margins for every row, through the pipeline's own
    batch path (not the single-tweet code the explanations use)."""
    features = model.pipeline.named_steps["features"].transform(
        input_matrix(data.text, data.keyword, data.location)
    )
    voting = model.pipeline.named_steps["classifier"]
    linear, trees = voting.named_estimators_["linear"], voting.named_estimators_["trees"]
    selected = trees.named_steps["select"].transform(features)
    booster = trees.named_steps["xgboost"].get_booster()
    tree_margins = booster.predict(xgboost.DMatrix(selected), output_margin=True)
    return linear.decision_function(features), tree_margins


def assert_explanations_exact(model, data) -> None:
    probabilities = model.predict_proba(data.text, data.keyword, data.location)
    linear_margins, tree_margins = _members_margins(model, data)
    rows = zip(data.text, data.keyword, data.location, strict=True)
    for i, (text, keyword, location) in enumerate(rows):
        explanation = explain(model, text, keyword, location)
        terms, others = explanation.terms, explanation.others
        total = explanation.base + sum(t.contribution for t in terms) + explanation.rest
        assert total == pytest.approx(explanation.score, abs=1e-9), f"row {i}: does not add up"
        assert explanation.rest == pytest.approx(sum(t.contribution for t in others), abs=1e-12)
        assert explanation.score == pytest.approx(probabilities[i], abs=1e-5), f"row {i}"

        sizes = [abs(t.contribution) for t in (*terms, *others)]
        assert sizes == sorted(sizes, reverse=True), f"row {i}: terms not largest first"
        assert len(terms) == min(TOP_TERMS, len(sizes))
        if others:
            assert max(abs(t.contribution) for t in others) <= abs(terms[-1].contribution)
        assert len({(t.field, t.term) for t in (*terms, *others)}) == len(sizes)

        linear, trees = explanation.members
        assert linear.margin == pytest.approx(linear_margins[i], abs=1e-9), f"row {i}"
        # XGBoost adds its float32 contributions and leaves in float32.
        assert trees.margin == pytest.approx(tree_margins[i], abs=1e-4), f"row {i}"
        assert explanation.score == pytest.approx(
            linear.weight * linear.probability + trees.weight * trees.probability, abs=1e-12
        )


def test_explanations_are_exact_on_the_sample(sample_model, sample_data):
    assert_explanations_exact(sample_model, sample_data)


@pytest.mark.slow
def test_explanations_are_exact_on_the_whole_real_data_set(shared_model, shared_data):
    assert_explanations_exact(shared_model, shared_data)


def _words(text: str) -> set[str]:
    """The words of a cleaned tweet: its tokens (the words vectorizer's) and its white-space
    separated words without the punctuation around them (the n-grams')."""
    cleaned = clean_text(text)
    tokens = set(re.findall(r"(?u)\b\w\w+\b", cleaned))
    return tokens | {re.sub(r"^\W+|\W+$", "", word) for word in cleaned.split()}


@pytest.mark.parametrize(
    "text",
    [
        "Forest fire near La Ronge Sask. Canada",
        "The earthquake-hit towns (Kathmandu, Pokhara) need help!!",
        "lol my phone exploded with messages #blessed",
    ],
)
def test_text_terms_are_words_of_the_tweet(sample_model, text):
    explanation = explain(sample_model, text, "", "")

    for term in (*explanation.terms, *explanation.others):
        if term.field == "text":
            assert term.term in _words(text), term


def test_character_ngrams_of_an_unknown_word_end_up_on_that_word(sample_model):
    # No vocabulary has this word, but its character n-grams ("fi", "ire", ...) are known.
    vocabulary = sample_model.pipeline.named_steps["features"].named_transformers_["words"]
    assert "firefloodzz" not in vocabulary.vocabulary_

    explanation = explain(sample_model, "firefloodzz", "", "", top=100)

    terms = {t.term: t.contribution for t in explanation.terms if t.field == "text"}
    assert set(terms) == {"firefloodzz"}
    assert terms["firefloodzz"] != 0.0


def test_links_mentions_keyword_and_location_are_named(sample_model):
    explanation = explain(sample_model, "@someone look http://t.co/abc fire!!", "", "", top=1000)

    names = {(t.field, t.term) for t in (*explanation.terms, *explanation.others)}
    assert ("text", "(mention)") in names
    assert ("text", "(link)") in names
    assert ("text", "fire") in names
    assert ("keyword", "keyword: (none)") in names
    assert ("location", "location: (none)") in names
    assert all(
        t.direction == ("disaster" if t.contribution > 0 else "not_disaster")
        for t in explanation.terms
    )


def test_absent_words_are_one_term(sample_model):
    explanation = explain(sample_model, "fire", "", "", top=1000)

    absent = [t for t in explanation.terms if t.field == "absent"]
    assert [t.term for t in absent] == [ABSENT_TERM]


@pytest.mark.parametrize(
    "row", [("", "", ""), ("!!! ...", "", ""), ("word " * 200, "x" * 50, "Zürich")]
)
def test_odd_input_still_adds_up(sample_model, row):
    explanation = explain(sample_model, *row)

    total = explanation.base + sum(t.contribution for t in explanation.terms) + explanation.rest
    assert total == pytest.approx(explanation.score, abs=1e-9)
    assert explanation.score == pytest.approx(sample_model.predict_one(*row), abs=1e-5)


def test_a_saved_model_explains_the_same_after_loading(sample_model, tmp_path):
    before = explain(sample_model, "Forest fire near La Ronge", "wildfire", "Canada")
    artifact = save(sample_model, tmp_path, "m")

    after = explain(
        load(artifact.path, artifact.sha256), "Forest fire near La Ronge", "wildfire", "Canada"
    )

    assert after.as_dict() == before.as_dict()
