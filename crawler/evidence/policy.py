"""Which fetched pages become evidence: every `drugs` page, and flagged sites' pages up to a cap.

A site is flagged by the same rule as in the database (``classifiers.site.site_verdict`` over
its page scores, kept as a ``SiteTally``), or because an earlier job flagged it. Pages a site
served before it was flagged are kept in a small bounded buffer (recent pages per site, a byte
budget overall) and captured when it flips. They are not fetched again: a second fetch would
show the site at another time, and tell its operator that someone came back. What falls out of
the buffer is counted as not captured.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict, deque
from dataclasses import dataclass, field

from classifiers.site import SiteTally
from crawler.items import PageItem

DRUGS_VERDICT, FLAGGED_SITE = "drugs-verdict", "flagged-site"


@dataclass
class _SiteState:
    flagged: bool
    tally: SiteTally | None = None  # its page scores so far, against the model's threshold
    captured: int = 0  # pages captured for being on a flagged site
    buffer: deque[PageItem] = field(default_factory=deque)
    buffered_bytes: int = 0


class CapturePolicy:
    """Decides, page by page, what to capture and why."""

    def __init__(self, site_cap: int = 200, buffer_pages: int = 20,
                 buffer_bytes: int = 64_000_000) -> None:
        self.site_cap = site_cap
        self.buffer_pages = buffer_pages
        self.buffer_bytes = buffer_bytes
        self.evicted = 0  # pages of not-yet-flagged sites dropped from the buffer
        self._sites: OrderedDict[str, _SiteState] = OrderedDict()  # least recently used first
        self._bytes = 0

    def knows(self, site: str) -> bool:
        return site in self._sites

    def add_site(self, site: str, flagged: bool) -> None:
        """Start tracking a site; ``flagged`` says whether it was flagged before this crawl."""
        self._sites.setdefault(site, _SiteState(flagged=flagged))

    def decide(self, item: PageItem) -> list[tuple[PageItem, str]]:
        """The pages to capture now (this one and, when its site just flipped, buffered ones)."""
        state = self._sites.setdefault(item.site, _SiteState(flagged=False))
        self._sites.move_to_end(item.site)
        verdict = item.verdict
        was_flagged = state.flagged
        if verdict is not None:
            if state.tally is None:  # one model, so one threshold, per crawl
                state.tally = SiteTally(float(verdict.threshold))
            state.tally.add(verdict.score)
            if not state.flagged:
                state.flagged = state.tally.verdict()[1]

        out: list[tuple[PageItem, str]] = []
        if state.flagged and not was_flagged:
            while state.buffer:
                out += self._flagged_site_page(state, state.buffer.popleft())
            self._bytes -= state.buffered_bytes
            state.buffered_bytes = 0
        if verdict is not None and verdict.label == "drugs":
            out.append((item, DRUGS_VERDICT))
        elif state.flagged:
            out += self._flagged_site_page(state, item)
        else:
            self._keep(state, item)
        return out

    def _flagged_site_page(self, state: _SiteState, item: PageItem) -> list[tuple[PageItem, str]]:
        if state.captured >= self.site_cap:
            return []
        state.captured += 1
        return [(item, FLAGGED_SITE)]

    def _keep(self, state: _SiteState, item: PageItem) -> None:
        if self.buffer_pages <= 0 or len(item.body) > self.buffer_bytes:
            self.evicted += 1
            return
        kept = dataclasses.replace(item, extracted=None)  # the body and entities are enough
        state.buffer.append(kept)
        state.buffered_bytes += len(kept.body)
        self._bytes += len(kept.body)
        if len(state.buffer) > self.buffer_pages:
            self._drop_oldest(state)
        for other in list(self._sites.values()):  # least recently seen sites give way first
            if self._bytes <= self.buffer_bytes:
                break
            while other.buffer and self._bytes > self.buffer_bytes:
                self._drop_oldest(other)

    def _drop_oldest(self, state: _SiteState) -> None:
        dropped = state.buffer.popleft()
        state.buffered_bytes -= len(dropped.body)
        self._bytes -= len(dropped.body)
        self.evicted += 1
