"""Matched terms marked in page text: the text is escaped first, then terms wrapped in <mark>."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from markupsafe import Markup, escape

MIN_TERM_CHARS = 3


def reason_terms(reasons: Iterable[dict[str, Any]] | None) -> list[str]:
    """The words or phrases behind a verdict's reasons (features without a term are skipped)."""
    terms: list[str] = []
    for reason in reasons or []:
        term = str(reason.get("term") or "").strip()
        if len(term) >= MIN_TERM_CHARS and term not in terms:
            terms.append(term)
    return terms


def highlight(text: str | None, terms: Sequence[str], limit: int | None = None) -> Markup:
    """``text`` (cut to ``limit`` characters) as safe HTML with each term in a <mark>."""
    text = text or ""
    if limit is not None and len(text) > limit:
        text = text[:limit] + " …"
    if not terms:
        return escape(text)
    pattern = re.compile("|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True)),
                         re.IGNORECASE)
    parts: list[Markup] = []
    last = 0
    for match in pattern.finditer(text):
        parts.append(escape(text[last:match.start()]))
        parts.append(Markup("<mark>%s</mark>") % match.group(0))
        last = match.end()
    parts.append(escape(text[last:]))
    return Markup("").join(parts)
