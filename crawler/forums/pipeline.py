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
from dataclasses import replace

from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from classifiers import Document, PageVerdict, TrawlerModel, load_model
from crawler.items import PageItem


def post_reason(position: int, author: str | None, score: float) -> dict[str, object]:
    who = f" by {author}" if author else ""
    return {"feature": "forum_post", "term": f"post {position + 1}{who}",
            "weight": round(score, 4)}


class PostClassifyPipeline:
    def __init__(self, crawler: Crawler, model_path: str, threshold: float = 0.9) -> None:
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
        return cls(crawler, path, crawler.settings.getfloat("TRAWLER_POST_THRESHOLD", 0.9))

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
        lang = item.extracted.lang if item.extracted else None
        docs = [Document(text=post.text, url=f"{item.url}#post-{post.key or post.position}",
                         lang=lang) for post in forum.posts]
        assert self.model is not None, "open_spider() first"
        loop = asyncio.get_running_loop()
        verdicts: list[PageVerdict] = await loop.run_in_executor(
            self._executor, self.model.classify, docs)
        for post, verdict in zip(forum.posts, verdicts, strict=True):
            post.label, post.score, post.reasons = verdict.label, verdict.score, verdict.reasons
            post.flagged = verdict.label == "drugs" and verdict.score >= self.threshold
        flagged = [i for i, post in enumerate(forum.posts) if post.flagged]
        if flagged:
            best = max(flagged, key=lambda i: verdicts[i].score)
            top, post = verdicts[best], forum.posts[best]
            item.verdict = replace(top, reasons=[
                post_reason(post.position, post.author, top.score), *top.reasons])
        return item

    def close_spider(self) -> None:
        self._executor.shutdown(wait=True)
