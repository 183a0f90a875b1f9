"""Storage pipeline: pages, verdicts and entities written in batches, one transaction each."""

from __future__ import annotations

from scrapy.crawler import Crawler

from crawler.batching import MicroBatcher
from crawler.forums.store import save_posts
from crawler.frontier import mark_fetched
from crawler.items import PageItem
from crawler.store import Database, open_database
from crawler.store.queries import save_pages

# How long a batch gathers pages. Each transaction costs a dozen queries, plus a few per site
# it touches, whatever its size: at a hundred pages a second, 0.2 s batches cost the crawl
# process a tenth less CPU per page than 0.05 s ones (measured before site verdicts were
# counted in the database); a page is stored at most this much later.
STORE_WAIT = 0.2


class StorePipeline:
    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        self.stats = crawler.stats
        self.db_url: str = settings["TRAWLER_DB_URL"]
        self.job_id: int | None = settings.getint("TRAWLER_JOB_ID") or None
        self.db: Database | None = None
        self._batcher: MicroBatcher[PageItem, int] = MicroBatcher(
            self._save_batch, max_size=settings.getint("TRAWLER_STORE_BATCH", 64),
            max_wait=STORE_WAIT)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        return cls(crawler)

    async def open_spider(self) -> None:
        self.db = await open_database(self.db_url)

    async def _save_batch(self, items: list[PageItem]) -> list[int]:
        assert self.db is not None
        async with self.db.session() as session, session.begin():
            page_ids = await save_pages(session, items, self.job_id)
            await save_posts(session, items)
            # Same transaction: a URL counts as fetched only once its page is stored.
            await mark_fetched(session, self.job_id,
                               [item.frontier_url for item in items if item.frontier_url])
            return page_ids

    async def process_item(self, item: PageItem) -> PageItem:
        await self._batcher.submit(item)
        stats = self.stats
        stats.inc_value("trawler/pages")
        if item.error:
            stats.inc_value(f"trawler/errors/{item.error.split(':', 1)[0]}")
        elif item.status and item.status >= 400:
            stats.inc_value(f"trawler/errors/http-{item.status}")
        if item.verdict is not None and item.verdict.label == "drugs":
            stats.inc_value("trawler/flagged_pages")
        return item

    async def close_spider(self) -> None:
        await self._batcher.drain()
        if self.db is not None:
            await self.db.close()
