"""Cleaning of tweet text, keywords and locations before they are vectorised."""

import html
import re
from urllib.parse import unquote

_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_MENTION = re.compile(r"@\w+")
_SPACE = re.compile(r"\s+")

URL_TOKEN = "urltoken"  # a vocabulary token, not a password  # nosec B105
MENTION_TOKEN = "usertoken"  # a vocabulary token, not a password  # nosec B105
NO_KEYWORD = "nokeyword"
NO_LOCATION = "nolocation"


def clean_text(text: str) -> str:
    """Unescape HTML, replace URLs and @mentions by tokens, keep hashtag words, lower-case.

    Runs of whitespace are left alone: every analyzer downstream splits on them anyway.
    """
    text = html.unescape(text)
    # The substring checks skip the regular expressions for most tweets (this runs per request).
    if "http" in text or "www." in text or "HTTP" in text or "WWW." in text:
        text = _URL.sub(f" {URL_TOKEN} ", text)
    if "@" in text:
        text = _MENTION.sub(f" {MENTION_TOKEN} ", text)
    return text.replace("#", " ").lower()


def clean_keyword(keyword: str) -> str:
    """Decode ``%20`` and friends, lower-case; an empty keyword becomes its own token."""
    keyword = _SPACE.sub(" ", unquote(keyword)).strip().lower()
    return keyword or NO_KEYWORD


def clean_location(location: str) -> str:
    """Lower-case and squeeze spaces; an empty location becomes its own token."""
    location = _SPACE.sub(" ", html.unescape(location)).strip().lower()
    return location or NO_LOCATION


def whole_keyword(keyword: str) -> list[str]:
    """Analyzer that keeps a cleaned keyword as one token (``forest fire`` stays whole)."""
    return [clean_keyword(keyword)]
