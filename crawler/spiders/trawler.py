"""The crawl spider: from seeds, follow links across sites within depth and page limits.

Every fetched URL becomes one ``PageItem``: a page that answered (any status), a non-HTML
body, or a failure (unreachable host, timeout, blocked address) with its reason.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from scrapy import Request, Spider
from scrapy.http import Response, TextResponse
from scrapy.linkextractors import IGNORED_EXTENSIONS
from scrapy.utils.url import url_has_any_extension
from twisted.python.failure import Failure

from crawler.extract import extract_page, site_of_url
from crawler.items import PageItem

_SKIP_EXTENSIONS = {f".{e}" for e in IGNORED_EXTENSIONS}


def _headers(headers: Any) -> dict[str, str]:
    return {k.decode("latin-1"): b", ".join(v).decode("latin-1") for k, v in headers.items()}


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

    def _schedule(self, url: str, depth: int, seed: int) -> Request | None:
        """A request for ``url`` unless it was seen or a limit is reached."""
        key = url.split("#", 1)[0]
        if key in self.seen or len(self.seen) >= self.max_pages:
            return None
        seed_cap = self.seeds[seed].get("max_pages")
        if seed_cap is not None and self.per_seed.get(seed, 0) >= seed_cap:
            return None
        self.seen.add(key)
        self.per_seed[seed] = self.per_seed.get(seed, 0) + 1
        return Request(url, callback=self.parse, errback=self.on_error, dont_filter=True,
                       meta={"page_depth": depth, "seed": seed})

    async def start(self) -> AsyncIterator[Request]:
        for index, seed in enumerate(self.seeds):
            request = self._schedule(seed["url"], 0, index)
            if request is not None:
                yield request

    def parse(self, response: Response) -> Iterator[PageItem | Request]:
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
        )
        if isinstance(response, TextResponse) or not content_type:
            item.extracted = extract_page(response.body, response.url, content_type)
        yield item

        if item.extracted is None or not (200 <= response.status < 300):
            return
        max_depth = self.seeds[seed].get("depth")
        if depth >= (self.max_depth if max_depth is None else max_depth):
            return
        for link in item.extracted.links:
            if url_has_any_extension(link, _SKIP_EXTENSIONS):
                continue
            request = self._schedule(link, depth + 1, seed)
            if request is not None:
                yield request

    def on_error(self, failure: Failure) -> Iterator[PageItem]:
        request = failure.request  # type: ignore[attr-defined]
        reason = describe_failure(failure)
        self.logger.info("%s: %s", request.url, reason)
        yield PageItem(
            url=request.url, site=site_of_url(request.url),
            depth=request.meta.get("page_depth", 0), error=reason,
            route=request.meta.get("route", "direct"),
            request_headers=_headers(request.headers),
        )
