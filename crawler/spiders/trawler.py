"""The crawl spider: from seeds, follow links across sites within depth and page limits.

Every fetched URL becomes one ``PageItem``: a page that answered (any status), a non-HTML
body, or a failure (unreachable host, timeout, blocked address) with its reason. Within a job,
the URLs scheduled are kept in the job's frontier (``crawler.frontier``), so the crawl resumes
where it stopped. Forum thread pages also carry their posts (``crawler.forums``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider
from scrapy.http import Headers, Response, TextResponse
from scrapy.linkextractors import IGNORED_EXTENSIONS
from twisted.python.failure import Failure

from classifiers import load_model
from crawler.analysis import Analyser, RawPage, read_page
from crawler.config import CrawlConfig
from crawler.download import TorUnavailableError
from crawler.extract import is_onion, site_of_url
from crawler.forums import ForumPage
from crawler.forums.pipeline import post_threshold
from crawler.frontier import Entry, Frontier
from crawler.items import PageItem

_SKIP_EXTENSIONS = tuple(f".{e}" for e in IGNORED_EXTENSIONS)


def _headers(headers: Headers) -> dict[str, str]:
    """Header names and values as text, repeated values joined.

    ``Headers`` keeps each normalised name with its list of values; its own ``items()``
    normalises every name again, a cost on every page, so the plain dict view is read instead.
    """
    return {k.decode("latin-1"): b", ".join(v).decode("latin-1")
            for k, v in dict.items(headers)}


def describe_failure(failure: Failure) -> str:
    """A short, human reason for a failed fetch."""
    exc = failure.value
    name = type(exc).__name__
    text = str(exc) or name
    kinds = {
        "CannotResolveHostError": "dns",
        "DNSLookupError": "dns",
        "DownloadTimeoutError": "timeout",
        "TimeoutError": "timeout",
        "DownloadConnectionRefusedError": "refused",
        "ConnectionRefusedError": "refused",
        "BlockedAddressError": "blocked",
        "TorUnavailableError": "tor-down",
    }
    return f"{kinds.get(name, 'error')}: {text}"


class TrawlerSpider(Spider):
    name = "trawler"

    def __init__(self, seeds: list[dict[str, Any]], max_pages: int = 1000, depth: int = 3,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seeds = seeds
        self.max_pages = max_pages
        self.max_depth = depth
        self.seen: set[str] = set()
        self.per_seed: dict[int, int] = {}
        self.frontier: Frontier | None = None
        self.sites: set[str] = set()
        self.tor_down = False  # Tor was down at the start: onion links are not followed
        self.analyser: Analyser | None = None  # worker processes; None: analyse in-process
        self.depth_priority = 1  # DEPTH_PRIORITY: 1 is breadth first

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> TrawlerSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.tor_down = crawler.settings.getbool("TRAWLER_TOR_DOWN")
        spider.depth_priority = crawler.settings.getint("DEPTH_PRIORITY")
        job_id = crawler.settings.getint("TRAWLER_JOB_ID")
        if job_id:
            spider.frontier = Frontier(crawler.settings["TRAWLER_DB_URL"], job_id)
            crawler.signals.connect(spider._close_frontier, signals.spider_closed)
        workers = crawler.settings.getint("TRAWLER_ANALYSIS_WORKERS", 0)
        if workers > 0:
            model = crawler.settings.get("TRAWLER_MODEL_PATH") or None
            if model:  # a missing or broken model stops the crawl here, before it starts
                load_model(model)
            spider.analyser = Analyser(
                workers, model, post_threshold=post_threshold(crawler.settings),
                timeout=crawler.settings.getfloat("TRAWLER_ANALYSIS_TIMEOUT",
                                                  CrawlConfig.analysis_timeout))
            crawler.signals.connect(spider._close_analyser, signals.spider_closed)
        return spider

    async def _close_analyser(self) -> None:
        if self.analyser is not None:
            await self.analyser.close()

    async def _close_frontier(self) -> None:
        if self.frontier is not None:
            await self.frontier.close()

    def _schedule(self, url: str, depth: int, seed: int) -> Request | None:
        """A request for ``url`` unless it was seen or a limit is reached."""
        key = url.split("#", 1)[0]
        if key in self.seen or len(self.seen) >= self.max_pages:
            return None
        if self.tor_down and is_onion(key):
            self.crawler.stats.inc_value("trawler/onion_skipped")
            return None
        seed_cap = self.seeds[seed].get("max_pages")
        if seed_cap is not None and self.per_seed.get(seed, 0) >= seed_cap:
            return None
        self.seen.add(key)
        self.per_seed[seed] = self.per_seed.get(seed, 0) + 1
        return self._request(Entry(key, depth, seed))

    def _request(self, entry: Entry) -> Request:
        meta: dict[str, Any] = {"page_depth": entry.depth, "seed": entry.seed,
                                "frontier_url": entry.url}
        proxy = self.seeds[entry.seed].get("proxy")
        if proxy and not is_onion(entry.url):
            meta["proxy"] = proxy
        return Request(entry.url, callback=self.parse, errback=self.on_error, dont_filter=True,
                       meta=meta)

    async def _persist(self, requests: list[Request]) -> None:
        """Commit scheduled URLs to the job's frontier before the page that found them is stored."""
        if self.frontier is not None:
            await self.frontier.add([Entry(r.meta["frontier_url"], r.meta["page_depth"],
                                           r.meta["seed"]) for r in requests])

    async def start(self) -> AsyncIterator[Request]:
        pending: list[Entry] = []
        if self.frontier is not None:
            state = await self.frontier.open()
            self.seen, self.per_seed, pending = state.seen, dict(state.per_seed), state.pending
            if pending:
                self.logger.warning("resuming: %d URLs fetched, %d left",
                                    len(self.seen) - len(pending), len(pending))
        fresh = [r for index, seed in enumerate(self.seeds)
                 if (r := self._schedule(seed["url"], 0, index)) is not None]
        await self._persist(fresh)
        for request in fresh:
            yield request
        for entry in pending:
            yield self._request(entry)

    def follow_links(self, item: PageItem, forum: ForumPage | None) -> list[str]:
        """The links of a fetched page that the crawl goes on to: not seen yet, not a file."""
        assert item.extracted is not None
        # Most links of a page were seen on earlier pages: skip those first (extracted links
        # carry no fragment; ``_schedule`` still decides on every link that is left).
        seen = self.seen
        return [link for link in item.extracted.links
                if link not in seen and not urlsplit(link).path.lower().endswith(_SKIP_EXTENSIONS)]

    async def parse(self, response: Response) -> AsyncIterator[PageItem | Request]:
        meta = response.meta
        depth, seed = meta.get("page_depth", 0), meta.get("seed", 0)
        content_type = response.headers.get("Content-Type", b"").decode("latin-1") or None
        item = PageItem(
            url=response.url, site=site_of_url(response.url), depth=depth,
            status=response.status, content_type=content_type,
            headers=_headers(response.headers),
            request_headers=_headers(response.request.headers) if response.request else {},
            body=response.body, truncated="truncated" in response.flags,
            route=meta.get("route", "direct"),
            ip_address=str(response.ip_address) if response.ip_address else None,
            frontier_url=meta.get("frontier_url"),
        )
        page = RawPage(response.url, response.body, content_type, response.status,
                       isinstance(response, TextResponse))
        if self.analyser is not None:
            analysis = await self.analyser.analyse(page)
            item.extracted, forum = analysis.extracted, analysis.forum
            item.entities, item.verdict = analysis.entities, analysis.verdict
            if analysis.failure:  # stored all the same, with what the worker could tell
                self.logger.warning("%s: %s", response.url, analysis.failure)
                self.crawler.stats.inc_value(
                    f"trawler/errors/{analysis.failure.split(':', 1)[0]}")
        else:
            item.extracted, forum = read_page(page)
        if forum is not None and forum.posts:
            item.forum = forum
        self._count_site(item.site)
        requests = list(self._children(item, forum, depth, seed))
        self._prioritise(requests, meta.get("depth", 0) + 1)
        await self._persist(requests)
        yield item
        for request in requests:
            yield request

    def _children(self, item: PageItem, forum: ForumPage | None, depth: int,
                  seed: int) -> Iterator[Request]:
        if item.extracted is None or not (200 <= (item.status or 0) < 300):
            return
        max_depth = self.seeds[seed].get("depth")
        if depth >= (self.max_depth if max_depth is None else max_depth):
            return
        if len(self.seen) >= self.max_pages:  # every link would be refused
            return
        for link in self.follow_links(item, forum):
            request = self._schedule(link, depth + 1, seed)
            if request is not None:
                yield request

    def _prioritise(self, requests: list[Request], hops: int) -> None:
        """What Scrapy's DepthMiddleware did (it is off: the chain cost more than its work):
        ``meta["depth"]`` counts fetches since the request started this run (the seeds and
        resumed URLs are 0) and requests further on wait their turn."""
        for request in requests:
            request.meta["depth"] = hops
            request.priority -= hops * self.depth_priority

    def _count_site(self, site: str) -> None:
        if site not in self.sites:
            self.sites.add(site)
            crawler = getattr(self, "crawler", None)
            if crawler is not None and crawler.stats is not None:
                crawler.stats.inc_value("trawler/sites")

    def on_error(self, failure: Failure) -> Iterator[PageItem]:
        request = failure.request  # type: ignore[attr-defined]
        reason = describe_failure(failure)
        if failure.check(TorUnavailableError):
            # The onion site's state is unknown: leave the URL in the frontier and stop the job.
            self.logger.error("%s", reason)
            raise CloseSpider("tor-down")
        self.logger.info("%s: %s", request.url, reason)
        self._count_site(site_of_url(request.url))
        yield PageItem(
            url=request.url, site=site_of_url(request.url),
            depth=request.meta.get("page_depth", 0), error=reason,
            route=request.meta.get("route", "direct"),
            request_headers=_headers(request.headers),
            frontier_url=request.meta.get("frontier_url"),
        )
