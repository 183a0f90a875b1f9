"""Proxy routing and download slots.

``--proxy`` serves clear-web hosts; ``.onion`` hosts are left to the Tor route.

Runs before Scrapy's HttpProxyMiddleware, which then applies the proxy environment variables
(``http_proxy``, ``https_proxy``, ``no_proxy``) to requests this one left alone.
"""

from __future__ import annotations

from scrapy import Request
from scrapy.crawler import Crawler

from crawler.extract.sites import is_onion, site_of_url


class RoutingMiddleware:
    def __init__(self, proxy: str | None) -> None:
        self.proxy = proxy

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RoutingMiddleware:
        return cls(crawler.settings.get("TRAWLER_PROXY") or None)

    def process_request(self, request: Request) -> None:
        # Politeness limits (per-site concurrency and delay) apply per Site, not per host name.
        request.meta.setdefault("download_slot", site_of_url(request.url))
        if is_onion(request.url):
            request.meta["proxy"] = None  # never an HTTP proxy, never direct: Tor only
        elif self.proxy and "proxy" not in request.meta:
            request.meta["proxy"] = self.proxy
