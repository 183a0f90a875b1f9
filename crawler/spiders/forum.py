"""The forum spider: walks forums board → thread → thread pages and reads every post.

On a forum page it follows only the forum's own navigation (boards, threads, pagination), and
those hops do not count against the depth limit: a 40-page thread is one thread, however deep.
Pages that are not forum pages are crawled as the main spider does, to find the forums.
"""

from __future__ import annotations

from collections.abc import Iterator

from scrapy import Request

from crawler.forums import ForumPage
from crawler.items import PageItem
from crawler.spiders.trawler import TrawlerSpider


class ForumSpider(TrawlerSpider):
    name = "forum"

    def _children(self, item: PageItem, forum: ForumPage | None, depth: int,
                  seed: int) -> Iterator[Request]:
        if forum is None:
            yield from super()._children(item, forum, depth, seed)
            return
        for link in forum.links:
            request = self._schedule(link, depth, seed)
            if request is not None:
                yield request
