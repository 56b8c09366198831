"""Hypothesis strategies for hostile input: any Unicode (control characters, lone surrogates,
unassigned and private-use code points), long strings, and arbitrary nested JSON."""

from __future__ import annotations

from hypothesis import strategies as st

# Every category, surrogates (Cs) included: Hypothesis leaves them out by default.
any_char = st.characters(exclude_categories=())
any_text = st.text(any_char, max_size=50) | st.text(any_char, min_size=990, max_size=1100)
field_value = st.one_of(
    any_text,
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.lists(st.text(max_size=5), max_size=3),
)
json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(any_char, max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
tweet_json = st.one_of(
    json_value,
    st.fixed_dictionaries(
        {"text": field_value}, optional={"keyword": field_value, "location": field_value}
    ),
    st.dictionaries(st.sampled_from(["text", "keyword", "location", "extra"]), json_value),
)
