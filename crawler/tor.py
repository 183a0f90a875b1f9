"""Tor health check: is the configured SOCKS5 proxy there, and can it reach the job's onions?

Run before a job starts, so that a stopped Tor is reported as such instead of every onion
site being recorded as dead.
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

SOCKS_REPLIES = {
    1: "general failure", 2: "connection not allowed", 3: "network unreachable",
    4: "host unreachable", 5: "connection refused", 6: "TTL expired",
    7: "command not supported", 8: "address type not supported",
}


@dataclass
class TorHealth:
    ok: bool
    message: str
    reachable: list[str] = field(default_factory=list)  # onion hosts Tor connected to
    unreachable: dict[str, str] = field(default_factory=dict)  # onion host -> SOCKS reply


class SocksError(Exception):
    """The proxy is not a usable SOCKS5 server."""


def _endpoint(tor_url: str) -> tuple[str, int, str | None, str | None]:
    parts = urlsplit(tor_url)
    if parts.scheme not in ("socks5", "socks5h") or not parts.hostname:
        raise SocksError(f"{tor_url!r} is not a socks5h:// URL (for example "
                         "socks5h://127.0.0.1:9050)")
    return (parts.hostname, parts.port or 9050,
            unquote(parts.username) if parts.username else None,
            unquote(parts.password) if parts.password else None)


async def _handshake(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     user: str | None, password: str | None) -> None:
    methods = b"\x00\x02" if user else b"\x00"
    writer.write(b"\x05" + bytes([len(methods)]) + methods)
    await writer.drain()
    version, method = await reader.readexactly(2)
    if version != 5:
        raise SocksError("it did not answer as a SOCKS5 proxy")
    if method == 2 and user:
        name, secret = user.encode(), (password or "").encode()
        writer.write(b"\x01" + bytes([len(name)]) + name + bytes([len(secret)]) + secret)
        await writer.drain()
        if (await reader.readexactly(2))[1] != 0:
            raise SocksError("it refused the user name and password in the Tor URL")
    elif method != 0:
        raise SocksError("it accepts none of the authentication methods offered")


async def _connect_reply(host: str, port: int, endpoint: tuple[str, int, str | None, str | None],
                         timeout: float) -> int:
    """Ask the proxy to connect to ``host:port``; returns the SOCKS reply code (0 = success)."""
    proxy_host, proxy_port, user, password = endpoint
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(proxy_host, proxy_port), timeout)
    try:
        await asyncio.wait_for(_handshake(reader, writer, user, password), timeout)
        name = host.encode("idna")
        writer.write(b"\x05\x01\x00\x03" + bytes([len(name)]) + name + struct.pack("!H", port))
        await writer.drain()
        reply = await asyncio.wait_for(reader.readexactly(4), timeout)
        return reply[1]
    finally:
        writer.close()


async def _probe(endpoint: tuple[str, int, str | None, str | None], timeout: float) -> None:
    proxy_host, proxy_port, user, password = endpoint
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(proxy_host, proxy_port), timeout)
    try:
        await asyncio.wait_for(_handshake(reader, writer, user, password), timeout)
    finally:
        writer.close()


async def check_tor(tor_url: str, onion_urls: list[str] | None = None,
                    timeout: float = 10.0, sample: int = 3) -> TorHealth:
    """Check the SOCKS5 proxy answers; then try up to ``sample`` of the onion URLs through it.

    ``ok`` is false only when the proxy itself is unusable: onions that do not answer may just be
    dead, which the crawl records page by page.
    """
    down = (f"Tor is not answering at {tor_url}: {{}}. Start Tor (or pass --tor with the right "
            "socks5h:// address); onion sites were not crawled and are not marked dead")
    try:
        endpoint = _endpoint(tor_url)
        await _probe(endpoint, timeout)
    except SocksError as exc:
        return TorHealth(False, down.format(exc))
    except (TimeoutError, OSError, asyncio.IncompleteReadError) as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else (
            getattr(exc, "strerror", None) or type(exc).__name__)
        return TorHealth(False, down.format(reason))
    health = TorHealth(True, f"Tor proxy {tor_url} answers")
    hosts = list(dict.fromkeys(
        (p.hostname, p.port or (443 if p.scheme == "https" else 80))
        for p in map(urlsplit, onion_urls or []) if p.hostname))[:sample]
    for host, port in hosts:
        try:
            code = await _connect_reply(host, port, endpoint, timeout)
        except (TimeoutError, OSError, asyncio.IncompleteReadError):
            code = 1
        if code == 0:
            health.reachable.append(host)
        else:
            health.unreachable[host] = SOCKS_REPLIES.get(code, f"reply {code}")
    if hosts and not health.reachable:
        health.message += (f", but reached none of {len(hosts)} onion seed(s) tried ("
                           + "; ".join(f"{h}: {r}" for h, r in health.unreachable.items())
                           + "): Tor may still be connecting to its network")
    return health
