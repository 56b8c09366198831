"""Request body parsing of the API."""

from __future__ import annotations

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser; JSON nested deeper than Python's decoder can go (`[[[[...]]]]`, a few
    kilobytes) is a 400 like any other bad JSON, where DRF lets the RecursionError become a 500."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None


class CsvParser(parsers.BaseParser):
    """A `text/csv` body as bytes, read up to one byte past CSV_MAX_BYTES (the job that gets it
    says the file is too large; a bigger body is not read into memory)."""

    media_type = "text/csv"

    def parse(self, stream, media_type=None, parser_context=None) -> bytes:
        return stream.read(settings.CSV_MAX_BYTES + 1) if stream is not None else b""
