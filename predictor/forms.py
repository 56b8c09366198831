"""The web forms: a tweet to classify, with the field names of the Flask app it replaces (keyword,
location, message), and a CSV file to score in the background."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat

from predictor.tweets import FIELD_MAX_LENGTH, TEXT_MAX_LENGTH, InvalidTweet, Tweet, tweet_clean

_FIELD_OF_TWEET = {"text": "message", "keyword": "keyword", "location": "location"}


class TweetForm(forms.Form):
    keyword = forms.CharField(
        max_length=FIELD_MAX_LENGTH,
        required=False,
        help_text="Optional, e.g. wildfire.",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    location = forms.CharField(
        max_length=FIELD_MAX_LENGTH,
        required=False,
        help_text="Optional, e.g. California.",
    )
    message = forms.CharField(
        max_length=TEXT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=f"The post itself, up to {TEXT_MAX_LENGTH:,} characters.",
    )

    def clean(self) -> dict:
        data = super().clean()
        if self.errors:
            return data
        try:
            self.tweet = tweet_clean(
                text=data["message"], keyword=data["keyword"], location=data["location"]
            )
        except InvalidTweet as exc:
            self.add_error(_FIELD_OF_TWEET[exc.field], exc.message)
        return data

    tweet: Tweet


class CsvUploadForm(forms.Form):
    """A CSV file to score; its contents are checked by the job (predictor.csv_scoring), which
    names the line of any problem."""

    file = forms.FileField(
        label="CSV file",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # From the settings at the time of the request, not at import.
        self.fields["file"].help_text = (
            f"UTF-8, a header line first; up to {filesizeformat(settings.CSV_MAX_BYTES)} "
            f"and {settings.CSV_MAX_ROWS:,} rows."
        )
