"""The explanation panel of the form's result and the review queue: the tweet with its top words
marked (towards disaster / away), a legend, and the terms as text with their contributions."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from django import template
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from ml.explain import DISASTER, Explanation, Term

register = template.Library()

# Shown beside each marked word as well as its colour, so the two kinds differ without colour.
SIGNS = {DISASTER: "▲", "not_disaster": "▼"}


def highlighted_text(text: str, terms: Sequence[Term]) -> SafeString:
    """`text`, escaped, with the words of `terms` marked wherever they stand as whole words
    (case-insensitively). Terms that are no word of the text (links, keyword, ...) are skipped."""
    words = {t.term.lower(): t for t in terms if t.field == "text" and not t.term.startswith("(")}
    if not words:
        return format_html("{}", text)
    # Longest first, so that "forest fire" style overlaps prefer the longer word.
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    pattern = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)
    parts: list[str | SafeString] = []
    end = 0
    for match in pattern.finditer(text):
        term = words.get(match.group(0).lower())
        if term is None:  # a case-insensitive match whose lower case differs (rare scripts)
            continue
        parts.append(text[end : match.start()])
        parts.append(
            format_html(
                '<mark class="why why-{}">{}<span class="why-sign" aria-hidden="true">{}</span>'
                "</mark>",
                term.direction,
                match.group(0),
                SIGNS[term.direction],
            )
        )
        end = match.end()
    parts.append(text[end:])
    # Each piece of the tweet is escaped here; the marks were built by format_html.
    return format_html_join("", "{}", ((part,) for part in parts))


@register.inclusion_tag("explanation.html")
def explanation_panel(
    text: str, explanation: Explanation, heading: str = "Why the model said this"
) -> dict[str, Any]:
    """The panel for one tweet and its explanation."""
    return {
        "heading": heading,
        "text": highlighted_text(text, explanation.terms),
        "explanation": explanation,
        "signs": SIGNS,
    }


@register.filter
def signed(value: float) -> str:
    """A contribution as the terms list shows it: +0.192, -0.039."""
    return f"{value:+.3f}"
