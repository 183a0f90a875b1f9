"""Site verdicts from page verdicts.

Only pages the model flags count as evidence; the site score is a noisy-OR over the ``top_k``
strongest of them. The bar a site must clear rises with the number of pages seen on it: on a
one-page site a flagged page is enough, on a 500-page news site one borderline page is not, while
one clear shop page (or a few flagged pages together) still is.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

TOP_K = 3


def required_score(threshold: float, pages: int) -> float:
    """The site score needed to flag a site with ``pages`` classified pages."""
    size = math.log10(max(1, pages))
    return threshold + (1.0 - threshold) * 0.8 * size / (size + 2.0)


def aggregate_site(page_scores: Sequence[float], threshold: float,
                   top_k: int = TOP_K) -> tuple[float, bool]:
    """(site score, flagged) from the calibrated page scores of one site."""
    scores = sorted((min(max(float(s), 0.0), 1.0) for s in page_scores), reverse=True)
    if not scores:
        return 0.0, False
    evidence = [s for s in scores[:top_k] if s >= threshold]
    if not evidence:
        return round(scores[0], 6), False
    miss = 1.0
    for s in evidence:
        miss *= 1.0 - s
    score = 1.0 - miss
    return round(score, 6), score >= required_score(threshold, len(scores))
