"""The crawl's stats collector: Scrapy's in-memory one, with plain attribute access.

Scrapy 2.13+ routes every attribute access on its stats collector through a
``__getattribute__`` that looks for a cached, deprecation-warning wrapper first, so each
``inc_value`` (several per page) pays for a failed lookup and a caught ``AttributeError`` on
``self._stats`` too. The wrapper only warns about a ``spider`` argument, which neither trawler
nor Scrapy's own components pass; the stats kept are exactly the same.
"""

from __future__ import annotations

from scrapy.statscollectors import MemoryStatsCollector


class CrawlStats(MemoryStatsCollector):
    """``MemoryStatsCollector`` without the per-access deprecation wrapper."""

    __getattribute__ = object.__getattribute__
