"""Safety guard: seeds and discovered links never reach private or loopback addresses.

IP literals and ``localhost`` names are refused outright; other names are resolved when the
request goes direct (through a proxy, the proxy resolves and only literals can be checked).
``TRAWLER_ALLOW_PRIVATE`` (``allow_private`` in trawler.toml) switches the guard off.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured

from crawler.extract.sites import is_onion


class BlockedAddressError(IgnoreRequest):
    """The request would have reached a private, loopback or otherwise non-public address."""


def _is_public(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%")[0]).is_global
    except ValueError:
        return False


class SafetyMiddleware:
    def __init__(self) -> None:
        self._cache: dict[str, bool] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SafetyMiddleware:
        if crawler.settings.getbool("TRAWLER_ALLOW_PRIVATE"):
            raise NotConfigured("private addresses allowed by configuration")
        return cls()

    async def process_request(self, request: Request) -> None:
        parts = urlsplit(request.url)
        host = (parts.hostname or "").rstrip(".").lower()
        if parts.scheme not in ("http", "https") or not host:
            raise BlockedAddressError(f"not an http(s) URL: {request.url}")
        if is_onion(host):
            return
        if host == "localhost" or host.endswith(".localhost"):
            raise BlockedAddressError(f"{host} is a loopback name")
        try:
            ipaddress.ip_address(host)
        except ValueError:
            pass
        else:
            if not _is_public(host):
                raise BlockedAddressError(f"{host} is a private or reserved address")
            return
        if request.meta.get("proxy"):
            return
        if not await self._resolves_public(host, parts.port or 80):
            raise BlockedAddressError(f"{host} resolves to a private or reserved address")

    async def _resolves_public(self, host: str, port: int) -> bool:
        if host not in self._cache:
            try:
                infos = await asyncio.get_running_loop().getaddrinfo(
                    host, port, type=socket.SOCK_STREAM)
            except OSError:
                return True  # does not resolve: the download fails and says so
            self._cache[host] = all(_is_public(str(info[4][0])) for info in infos)
        return self._cache[host]
