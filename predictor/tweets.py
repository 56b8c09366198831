"""What a valid tweet is: the fields, their length limits and `tweet_clean`, which every edge
(the web form, the API, the `predict` command) calls once before handing a `Tweet` down."""

from __future__ import annotations

from dataclasses import dataclass

TEXT_MAX_LENGTH = 1000
FIELD_MAX_LENGTH = 100


class InvalidTweet(ValueError):
    """A tweet that cannot be stored; `field` names the offending input."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Tweet:
    """One tweet to classify, already stripped and checked by `tweet_clean`."""

    text: str
    keyword: str = ""
    location: str = ""


def _check_field(field: str, value: str, max_length: int, *, required: bool = False) -> str:
    value = value.strip()
    if required and not value:
        raise InvalidTweet(field, "This field may not be blank.")
    if len(value) > max_length:
        raise InvalidTweet(field, f"Ensure this field has no more than {max_length} characters.")
    if "\x00" in value:
        raise InvalidTweet(field, "Null characters are not allowed.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidTweet(field, "Contains characters that are not valid Unicode.") from None
    return value


def tweet_clean(*, text: str, keyword: str | None = "", location: str | None = "") -> Tweet:
    """Strip and check one tweet's fields; InvalidTweet names the first bad field."""
    return Tweet(
        text=_check_field("text", text, TEXT_MAX_LENGTH, required=True),
        keyword=_check_field("keyword", keyword or "", FIELD_MAX_LENGTH),
        location=_check_field("location", location or "", FIELD_MAX_LENGTH),
    )
