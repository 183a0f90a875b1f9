"""Classification pipeline: page verdicts in micro-batches, computed off the reactor thread.

Used when pages are analysed in the crawl process (``analysis_workers = 0``); an analysis
worker (``crawler.analysis``) classifies them otherwise.

A page the model fails on is still stored (without a verdict) and counted under
``trawler/errors/classify``: a classifier bug never loses a fetched page.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from classifiers import Document, PageVerdict, TrawlerModel, load_model
from crawler.analysis import page_document
from crawler.batching import MicroBatcher
from crawler.items import PageItem

logger = logging.getLogger(__name__)


class ClassifyPipeline:
    def __init__(self, model: TrawlerModel, batch_size: int = 32, stats: Any = None) -> None:
        self.model = model
        self.stats = stats
        # One worker thread: batches run in order and the crawl loop never waits on sklearn.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="classify")
        self._batcher: MicroBatcher[Document, PageVerdict] = MicroBatcher(
            self._classify_batch, max_size=batch_size, max_wait=0.005)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ClassifyPipeline:
        path = crawler.settings.get("TRAWLER_MODEL_PATH")
        if not path:
            raise NotConfigured("no model configured")
        if crawler.settings.getint("TRAWLER_ANALYSIS_WORKERS", 0) > 0:
            raise NotConfigured("pages are classified in the analysis workers")
        return cls(load_model(path), crawler.settings.getint("TRAWLER_CLASSIFY_BATCH", 32),
                   crawler.stats)

    async def _classify_batch(self, docs: list[Document]) -> list[PageVerdict]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.model.classify, docs)

    async def process_item(self, item: PageItem) -> PageItem:
        document = page_document(item.extracted, item.url)
        if document is not None:
            try:
                item.verdict = await self._batcher.submit(document)
            except Exception:
                logger.exception("classifying %s failed; the page is stored without a verdict",
                                 item.url)
                if self.stats is not None:
                    self.stats.inc_value("trawler/errors/classify")
        return item

    async def close_spider(self) -> None:
        await self._batcher.drain()
        self._executor.shutdown(wait=True)
