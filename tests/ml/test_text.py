"""Cleaning of tweet text, keywords and locations."""

import pytest

from ml.text import clean_keyword, clean_location, clean_text, whole_keyword


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Fire &amp; smoke near I-5", "fire & smoke near i-5"),
        ("See http://t.co/AbC12 and https://x.y/z?q=1 now", "see  urltoken  and  urltoken  now"),
        ("WWW.EXAMPLE.COM is down", " urltoken  is down"),
        ("@NWS_Alerts @bob: flood!", " usertoken   usertoken : flood!"),
        ("#Earthquake in #Nepal", " earthquake in  nepal"),
        ("email me at a@b.com", "email me at a usertoken .com"),
    ],
)
def test_clean_text(raw, clean):
    assert clean_text(raw) == clean


def test_clean_keyword_decodes_percent_escapes_and_marks_a_missing_keyword():
    assert clean_keyword("Forest%20Fire") == "forest fire"
    assert clean_keyword("") == "nokeyword"
    assert whole_keyword("suicide%20bomber") == ["suicide bomber"]


def test_clean_location():
    assert clean_location("  New   York,  NY ") == "new york, ny"
    assert clean_location("") == "nolocation"
