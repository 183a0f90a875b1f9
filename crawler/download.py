"""The download handler: aiohttp for every route, with a size cap that truncates instead of failing.

Routes: ``.onion`` hosts always through the Tor SOCKS5h proxy (never direct); other hosts
through ``request.meta["proxy"]`` when set (``--proxy`` or the proxy environment variables)
or direct. Bodies over the cap are cut and flagged ``truncated`` so evidence keeps them.
"""

from __future__ import annotations

import asyncio
import ipaddress
from typing import Any

import aiohttp
from aiohttp_socks import ProxyConnector
from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
)
from scrapy.http import Headers, Response
from scrapy.responsetypes import responsetypes

from crawler.extract.sites import is_onion

ROUTE_DIRECT, ROUTE_PROXY, ROUTE_TOR = "direct", "proxy", "tor"


class _PeerResponse(aiohttp.ClientResponse):
    """Keeps the peer address, which aiohttp drops once the connection returns to the pool."""

    peername: Any = None

    async def start(self, connection: Any) -> aiohttp.ClientResponse:
        if connection.transport is not None:
            self.peername = connection.transport.get_extra_info("peername")
        return await super().start(connection)


class TorUnavailableError(DownloadFailedError):
    """The Tor SOCKS proxy did not answer: the onion site's state is unknown, not dead."""


def route_of(request: Request) -> str:
    if is_onion(request.url):
        return ROUTE_TOR
    return ROUTE_PROXY if request.meta.get("proxy") else ROUTE_DIRECT


class RoutingDownloadHandler:
    """Scrapy download handler for http and https."""

    lazy = False

    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        self.tor_url: str = settings.get("TRAWLER_TOR", "socks5h://127.0.0.1:9050")
        self.max_bytes: int = settings.getint("TRAWLER_MAX_PAGE_BYTES", 3_000_000)
        self.default_timeout: float = settings.getfloat("DOWNLOAD_TIMEOUT", 20)
        self.limit: int = settings.getint("CONCURRENT_REQUESTS", 16)
        self._sessions: dict[str, aiohttp.ClientSession] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RoutingDownloadHandler:
        return cls(crawler)

    def _session(self, route: str) -> aiohttp.ClientSession:
        session = self._sessions.get(route)
        if session is None or session.closed:
            if route == ROUTE_TOR:
                # socks5h means "the proxy resolves names": aiohttp-socks calls it rdns.
                url = self.tor_url.replace("socks5h://", "socks5://", 1)
                connector: aiohttp.BaseConnector = ProxyConnector.from_url(
                    url, rdns=True, limit=self.limit)
            else:
                connector = aiohttp.TCPConnector(limit=self.limit, ttl_dns_cache=300)
            session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=True,
                cookie_jar=aiohttp.DummyCookieJar(),
                trust_env=False,  # proxies come from request.meta, set by Scrapy's middleware
                response_class=_PeerResponse,
            )
            self._sessions[route] = session
        return session

    async def download_request(self, request: Request, spider: Any = None) -> Response:
        route = route_of(request)
        request.meta["route"] = route
        timeout = aiohttp.ClientTimeout(total=request.meta.get("download_timeout",
                                                               self.default_timeout))
        headers = [(k.decode("latin-1"), v.decode("latin-1"))
                   for k, values in dict.items(request.headers) for v in values]
        proxy = request.meta.get("proxy") if route == ROUTE_PROXY else None
        try:
            async with self._session(route).request(
                request.method, request.url, data=request.body or None, headers=headers,
                proxy=proxy, allow_redirects=False, timeout=timeout, ssl=False,
            ) as resp:
                body, truncated = await self._read_capped(resp)
                peer = resp.peername
                raw_headers = Headers(resp.raw_headers)  # repeated names keep every value
                status, reason = resp.status, resp.reason
        except TimeoutError as exc:
            raise DownloadTimeoutError(f"no answer from {request.url} within "
                                       f"{timeout.total:g}s") from exc
        except aiohttp.ClientProxyConnectionError as exc:
            raise DownloadConnectionRefusedError(f"proxy refused: {exc}") from exc
        except aiohttp.ClientConnectorDNSError as exc:
            raise CannotResolveHostError(str(exc)) from exc
        except aiohttp.ClientConnectorError as exc:
            raise DownloadConnectionRefusedError(str(exc)) from exc
        except (aiohttp.ClientError, OSError) as exc:
            if route == ROUTE_TOR and "proxy" in type(exc).__name__.lower():
                raise TorUnavailableError(f"Tor proxy {self.tor_url}: {exc}") from exc
            raise DownloadFailedError(f"{type(exc).__name__}: {exc}") from exc
        except Exception as exc:  # aiohttp-socks errors have no common aiohttp base
            if route == ROUTE_TOR:
                raise TorUnavailableError(f"Tor proxy {self.tor_url}: {exc}") from exc
            raise

        # Through Tor the peer is the local SOCKS proxy, not the site: record no address.
        ip = None if route == ROUTE_TOR else _ip(peer)
        cls = responsetypes.from_args(headers=raw_headers, url=request.url, body=body)
        flags = ["truncated"] if truncated else []
        response = cls(url=request.url, status=status, headers=raw_headers, body=body,
                       flags=flags, request=request, ip_address=ip, protocol="HTTP/1.1")
        response.meta["reason"] = reason
        return response

    async def _read_capped(self, resp: aiohttp.ClientResponse) -> tuple[bytes, bool]:
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.content.iter_chunked(65536):
            size += len(chunk)
            chunks.append(chunk)
            if size >= self.max_bytes:
                body = b"".join(chunks)[: self.max_bytes]
                resp.close()
                return body, True
        return b"".join(chunks), False

    async def close(self) -> None:
        sessions, self._sessions = list(self._sessions.values()), {}
        await asyncio.gather(*(s.close() for s in sessions), return_exceptions=True)


def _ip(peer: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if isinstance(peer, tuple) and peer:
        try:
            return ipaddress.ip_address(peer[0])
        except ValueError:
            return None
    return None
