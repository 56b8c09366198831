"""The marking of a tweet's words: whole words, any case, everything else escaped."""

from __future__ import annotations

from ml.explain import Term
from predictor.templatetags.explanation import highlighted_text, signed

UP = '<mark class="why why-disaster">{}<span class="why-sign" aria-hidden="true">▲</span></mark>'
DOWN = (
    '<mark class="why why-not_disaster">{}<span class="why-sign" aria-hidden="true">▼</span></mark>'
)


def test_words_are_marked_case_insensitively_at_word_boundaries():
    terms = [Term("fire", "text", 0.2), Term("lol", "text", -0.1)]

    html = highlighted_text("FIRE! firefly lol #fire", terms)

    assert html == f"{UP.format('FIRE')}! firefly {DOWN.format('lol')} #{UP.format('fire')}"


def test_hostile_text_is_escaped_and_still_marked():
    terms = [Term("fire", "text", 0.2), Term("script", "text", 0.1)]

    html = highlighted_text('<script>alert("x")</script> fire & <b>', terms)

    assert "<script>" not in html and "<b>" not in html
    assert "&lt;" in html and "&amp;" in html and "&quot;x&quot;" in html
    assert UP.format("fire") in html
    assert UP.format("script") in html  # inside the escaped tag, as text


def test_terms_that_are_not_words_of_the_text_mark_nothing():
    terms = [
        Term("keyword: fire", "keyword", 0.3),
        Term("(link)", "text", 0.1),
        Term("(words not in the tweet)", "absent", -0.1),
        Term("a.b", "text", 0.1),
    ]

    assert highlighted_text("fire at http://x.co axb", terms) == "fire at http://x.co axb"


def test_contributions_are_signed():
    assert (signed(0.19204), signed(-0.0391), signed(0.0)) == ("+0.192", "-0.039", "+0.000")
