"""Matched terms marked in page text: the text is escaped first, then terms wrapped in <mark>,
those that count against a drug shop in <mark class="against">."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from markupsafe import Markup, escape

MIN_TERM_CHARS = 3
# How a reason names several matched terms ("клад, магнит, прикоп"): as the classifier joins
# them (``classifiers.model.TERMS_JOINED_BY``; not imported, so that the review app does not load
# the classifier).
TERMS_JOINED_BY = ", "


def reason_terms(reasons: Iterable[dict[str, Any]] | None, against: bool = False) -> list[str]:
    """The words or phrases behind a verdict's reasons, each on its own (a lexicon reason names
    several), in the order the reasons name them: those whose reasons together push the score
    towards "drugs", or with ``against`` those that push it away (benign context: police,
    pharmacy or harm-reduction words). Features without a term are skipped."""
    weights: dict[str, float] = {}
    for reason in reasons or []:
        weight = float(reason.get("weight") or 0)
        for term in str(reason.get("term") or "").split(TERMS_JOINED_BY):
            term = term.strip()
            if len(term) >= MIN_TERM_CHARS:
                weights[term] = weights.get(term, 0.0) + weight
    return [term for term, weight in weights.items() if (weight < 0 if against else weight > 0)]


def highlight(text: str | None, terms: Sequence[str], limit: int | None = None,
              against: Sequence[str] = ()) -> Markup:
    """``text`` (cut to ``limit`` characters) as safe HTML with each term in a <mark>, and each
    term ``against`` in a <mark class="against">."""
    text = text or ""
    if limit is not None and len(text) > limit:
        text = text[:limit] + " …"
    if not terms and not against:
        return escape(text)
    opposed = {term.casefold() for term in against} - {term.casefold() for term in terms}
    pattern = re.compile("|".join(re.escape(t) for t in sorted({*terms, *against}, key=len,
                                                                 reverse=True)),
                         re.IGNORECASE)
    parts: list[Markup] = []
    last = 0
    for match in pattern.finditer(text):
        parts.append(escape(text[last:match.start()]))
        tag = '<mark class="against">%s</mark>' if match.group(0).casefold() in opposed else (
            "<mark>%s</mark>")
        parts.append(Markup(tag) % match.group(0))
        last = match.end()
    parts.append(escape(text[last:]))
    return Markup("").join(parts)
