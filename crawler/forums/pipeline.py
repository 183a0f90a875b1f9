"""Post classification: each forum post gets its own verdict; a thread page is judged by its posts.

A sale offer hidden among a hundred ordinary replies is one post; classifying the page as a
whole would dilute it. Each post is judged on its own words (not the thread title, which every
reply shares). A post is short, so it is flagged only at a score of at least
``TRAWLER_POST_THRESHOLD`` (and the model's threshold); the page's verdict then becomes that of
its most selling post, with the post named in the reasons.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.settings import BaseSettings

from classifiers import TrawlerModel, load_model
from crawler.forums.posts import POST_THRESHOLD, classify_posts
from crawler.items import PageItem


def post_threshold(settings: BaseSettings) -> float:
    """The score a post needs to be flagged (``TRAWLER_POST_THRESHOLD``)."""
    return settings.getfloat("TRAWLER_POST_THRESHOLD", POST_THRESHOLD)


class PostClassifyPipeline:
    def __init__(self, crawler: Crawler, model_path: str,
                 threshold: float = POST_THRESHOLD) -> None:
        self.crawler = crawler
        self.model_path = model_path
        self.threshold = threshold
        self.model: TrawlerModel | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="posts")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PostClassifyPipeline:
        path = crawler.settings.get("TRAWLER_MODEL_PATH")
        if not path:
            raise NotConfigured("no model configured")
        if crawler.settings.getint("TRAWLER_ANALYSIS_WORKERS", 0) > 0:
            raise NotConfigured("the analysis workers classify the posts")
        return cls(crawler, path, post_threshold(crawler.settings))

    def open_spider(self) -> None:
        # Share the page classifier's model when it is loaded already (loading takes seconds).
        pipelines = self.crawler.engine.scraper.itemproc.middlewares if self.crawler.engine \
            else ()
        shared = [p.model for p in pipelines
                  if p is not self and isinstance(getattr(p, "model", None), TrawlerModel)]
        self.model = shared[0] if shared else load_model(self.model_path)

    async def process_item(self, item: PageItem) -> PageItem:
        forum = item.forum
        if forum is None or not forum.posts:
            return item
        assert self.model is not None, "open_spider() first"
        lang = item.extracted.lang if item.extracted else None
        verdict = await asyncio.get_running_loop().run_in_executor(
            self._executor, classify_posts, self.model, forum, item.url, lang, self.threshold)
        if verdict is not None:
            item.verdict = verdict
        return item

    def close_spider(self) -> None:
        self._executor.shutdown(wait=True)
