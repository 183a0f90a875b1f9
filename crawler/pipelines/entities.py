"""Entity pipeline: payment and contact identifiers of each page, put on ``item.entities``.

Runs before classification so entity counts are there for whoever reads them; the store
pipeline saves them per page (and so per site).
"""

from __future__ import annotations

from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from crawler.extract.entities import extract_entities, non_web_links
from crawler.items import PageItem


class EntitiesPipeline:
    @classmethod
    def from_crawler(cls, crawler: Crawler) -> EntitiesPipeline:
        if not crawler.settings.getbool("TRAWLER_ENTITIES", True):
            raise NotConfigured("entity extraction switched off")
        return cls()

    async def process_item(self, item: PageItem) -> PageItem:
        extracted = item.extracted
        if extracted is None or item.error:
            return item
        links = list(extracted.links) + non_web_links(item.body)
        item.entities = extract_entities(f"{extracted.title}\n{extracted.text}", links)
        return item
