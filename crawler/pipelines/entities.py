"""Entity pipeline: payment and contact identifiers of each page, put on ``item.entities``.

Pages analysed in a worker process (``crawler.analysis``) arrive with their entities.

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
        if not crawler.settings.getbool("TRAWLER_ENTITIES", True):
            raise NotConfigured("entity extraction switched off")
        return cls()

    async def process_item(self, item: PageItem) -> PageItem:
        if item.extracted is None or item.error or item.analysed:
            return item
        item.entities = page_entities(item.extracted, item.body)
        return item
