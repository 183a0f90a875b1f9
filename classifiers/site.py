"""Site verdicts from page verdicts.

Only pages the model flags count as evidence; the site score is a noisy-OR over the ``top_k``
strongest of them. The bar a site must clear rises with the number of its pages the model calls
benign: on a one-page site (or a shop whose every page is flagged) a flagged page is enough; on a
site with a few benign pages one borderline page is not; on a 500-page news site a drug-crime
article is not, while one clear shop page (above ``CLEAR``) or two strong ones still are.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

TOP_K = 3
# The bar never rises above this: one page scoring higher flags any site.
CLEAR = 0.97


def required_score(threshold: float, benign_pages: int) -> float:
    """The site score needed to flag a site on which ``benign_pages`` pages scored below the
    threshold: the threshold itself with none, about 0.83 with four (threshold 0.5), close to
    ``CLEAR`` with hundreds."""
    if threshold >= CLEAR:
        return threshold
    rise = 1.0 - (1.0 + max(0, benign_pages)) ** -0.75
    return threshold + (CLEAR - threshold) * rise


def site_verdict(top_scores: Sequence[float], benign_pages: int, threshold: float,
                 top_k: int = TOP_K) -> tuple[float, bool]:
    """(site score, flagged) from a site's strongest page scores, highest first (its ``top_k``
    strongest, or all it has), and the number of its pages scoring below ``threshold``: all
    the verdict needs, so a database or a running crawl can keep just that. Scores are clamped
    to [0, 1] here, the one place: clamping keeps their order, so callers may rank raw ones."""
    scores = [min(max(float(s), 0.0), 1.0) for s in top_scores[:top_k]]
    if not scores:
        return 0.0, False
    evidence = [s for s in scores if s >= threshold]
    if not evidence:
        return round(scores[0], 6), False
    miss = 1.0
    for s in evidence:
        miss *= 1.0 - s
    score = 1.0 - miss
    return round(score, 6), score >= required_score(threshold, benign_pages)


def aggregate_site(page_scores: Sequence[float], threshold: float,
                   top_k: int = TOP_K) -> tuple[float, bool]:
    """(site score, flagged) from the calibrated page scores of one site."""
    scores = [float(s) for s in page_scores]
    benign = sum(1 for s in scores if s < threshold)
    return site_verdict(heapq.nlargest(top_k, scores), benign, threshold, top_k)


class SiteTally:
    """A site's verdict kept up to date as its pages are scored, at a constant cost per page
    (its ``top_k`` strongest scores and a count), for a crawl that decides page by page."""

    def __init__(self, threshold: float, top_k: int = TOP_K) -> None:
        self.threshold = threshold
        self.top_k = top_k
        self.top: list[float] = []  # a min-heap of the strongest scores
        self.benign = 0

    def add(self, score: float) -> None:
        score = float(score)
        if score < self.threshold:
            self.benign += 1
        if len(self.top) < self.top_k:
            heapq.heappush(self.top, score)
        elif score > self.top[0]:
            heapq.heapreplace(self.top, score)

    def verdict(self) -> tuple[float, bool]:
        return site_verdict(sorted(self.top, reverse=True), self.benign, self.threshold,
                            self.top_k)
