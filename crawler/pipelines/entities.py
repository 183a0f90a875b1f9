"""Entity pipeline: payment and contact identifiers of each page, put on ``item.entities``.

Used when pages are analysed in the crawl process (``analysis_workers = 0``); an analysis
worker (``crawler.analysis``) finds them otherwise.

Runs before classification so entity counts are there for whoever reads them; the store
pipeline saves them per page (and so per site).
"""

from __future__ import annotations

from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from crawler.analysis import page_entities
from crawler.items import PageItem


class EntitiesPipeline:
    @classmethod
    def from_crawler(cls, crawler: Crawler) -> EntitiesPipeline:
        if crawler.settings.getint("TRAWLER_ANALYSIS_WORKERS", 0) > 0:
            raise NotConfigured("entities are found in the analysis workers")
        return cls()

    async def process_item(self, item: PageItem) -> PageItem:
        if item.extracted is None or item.error:
            return item
        item.entities = page_entities(item.extracted, item.body)
        return item
