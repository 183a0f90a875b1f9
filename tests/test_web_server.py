"""The fictional web (tests/web): proxy, virtual hosts, charsets, SOCKS5, links, content.

The ``web`` fixture (tests/conftest.py) is one server with its SOCKS5 stand-in for the session.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import socket
import subprocess
import sys
from urllib.parse import urldefrag, urljoin, urlsplit

import aiohttp
import base58
import lxml.html
import pytest
from aiohttp_socks import ProxyConnector, ProxyError

from tests import web as fictional
from tests.web.dynamic import BENCH_PAGES, bench_label
from tests.web.server import FictionalWeb, WebInThread

ONION_SITE = next(
    name
    for name, meta in fictional.sites().items()
    if meta["kind"] == "darknet-market" and meta["lang"] == "en"
)
# Links to the real internet found on fictional pages (engine credits, Telegram); never fetched.
EXTERNAL_HOSTS = {"t.me", "www.phpbb.com", "www.simplemachines.org"}


def raw_exchange(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(request)
        chunks = []
        while data := conn.recv(65536):
            chunks.append(data)
        return b"".join(chunks)


async def fetch(session: aiohttp.ClientSession, url: str, proxy: str) -> tuple[int, str, bytes]:
    async with session.get(url, proxy=proxy, allow_redirects=False) as response:
        return response.status, response.headers.get("Content-Type", ""), await response.read()


def page_links(url: str, body: bytes, charset: str) -> set[str]:
    if not body.strip():
        return set()
    tree = lxml.html.fromstring(body.decode(charset, errors="replace"))
    links = set()
    for href in tree.xpath("//a/@href"):
        absolute = urldefrag(urljoin(url, href.strip()))[0]
        if urlsplit(absolute).scheme in ("http", "https"):
            links.add(absolute)
    return links


def site_of(url: str) -> str:
    return urlsplit(url).hostname or ""


async def crawl(
    proxy: str, start: list[str], max_depth: int, same_site: bool
) -> dict[str, tuple[int, int]]:
    """Breadth-first walk over fictional hosts; url -> (status, depth)."""
    sites = fictional.sites()
    hosts = {host: name for name, meta in sites.items() for host in meta["hosts"]}
    seen: dict[str, tuple[int, int]] = {}
    frontier = {url: 0 for url in start}
    async with aiohttp.ClientSession() as session:
        while frontier:
            batch = [url for url in frontier if url not in seen]
            results = await asyncio.gather(*(fetch(session, url, proxy) for url in batch))
            next_frontier: dict[str, int] = {}
            for url, (status, _, body) in zip(batch, results, strict=False):
                depth = frontier[url]
                seen[url] = (status, depth)
                name = hosts.get(site_of(url))
                if status != 200 or name is None or depth >= max_depth:
                    continue
                for link in page_links(url, body, sites[name].get("charset", "utf-8")):
                    host = site_of(link)
                    if host in EXTERNAL_HOSTS or (same_site and hosts.get(host) != name):
                        continue
                    if link not in seen:
                        next_frontier.setdefault(link, depth + 1)
            frontier = next_frontier
    return seen


# ---------------------------------------------------------------- server and proxy


async def test_fetch_through_proxy(web: WebInThread) -> None:
    async with aiohttp.ClientSession() as session:
        status, content_type, body = await fetch(
            session, "http://shop-minsk.example/catalog.html", web.proxy_url
        )
    assert status == 200 and content_type.startswith("text/html")
    assert "Меф кристалл" in body.decode()
    assert any(
        r.host == "shop-minsk.example" and r.path == "/catalog.html" and r.via == "proxy"
        for r in web.requests
    )


async def test_virtual_hosting_by_host_header(web: WebInThread) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{web.url}/price.html", headers={"Host": "gomel-klad.example"}) as response,
    ):
        body = await response.read()
    assert response.status == 200
    assert "Прайс-лист" in body.decode("cp1251")
    assert web.requests[-1].via == "direct" and web.requests[-1].host == "gomel-klad.example"


def test_absolute_uri_with_keep_alive(web: WebInThread) -> None:
    request = b"GET http://kladbot.example/ HTTP/1.1\r\nHost: kladbot.example\r\n\r\n"
    closing = (
        b"GET http://kladbot.example/goroda.html HTTP/1.1\r\n"
        b"Host: kladbot.example\r\nConnection: close\r\n\r\n"
    )
    answer = raw_exchange(web.port, request + closing)
    assert answer.count(b"HTTP/1.1 200 OK") == 2
    assert b"Connection: keep-alive" in answer and b"Connection: close" in answer


def test_connect_is_refused(web: WebInThread) -> None:
    answer = raw_exchange(web.port, b"CONNECT t.me:443 HTTP/1.1\r\nHost: t.me:443\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 405")
    assert web.requests[-1].via == "connect"


async def test_unknown_host(web: WebInThread) -> None:
    async with aiohttp.ClientSession() as session:
        status, _, _ = await fetch(session, "http://no-such-site.example/", web.proxy_url)
        async with session.get(web.url + "/", headers={"Host": "no-such-site.example"}) as direct:
            pass
    assert status == 502 and direct.status == 404


async def test_async_api_on_a_free_port() -> None:
    async with FictionalWeb(port=0) as server, aiohttp.ClientSession() as session:
        status, _, _ = await fetch(session, "http://bel-krama.example/", server.proxy_url)
        assert server.port > 0 and status == 200
        assert [(r.host, r.path) for r in server.requests] == [("bel-krama.example", "/")]


@pytest.mark.parametrize(
    "name", [n for n, m in fictional.sites().items() if m.get("charset", "utf-8") != "utf-8"]
)
async def test_charset_bytes_match_site_yaml(web: WebInThread, name: str) -> None:
    meta = fictional.sites()[name]
    async with aiohttp.ClientSession() as session:
        _, content_type, body = await fetch(session, f"http://{name}/", web.proxy_url)
    text = body.decode(meta["charset"])
    assert re.search("[а-яА-Я]{5}", text)
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    assert content_type == f"text/html; charset={meta['header_charset']}"


# ---------------------------------------------------------------- SOCKS5 (Tor stand-in)


async def test_socks5_reaches_onion_host(web: WebInThread) -> None:
    connector = ProxyConnector.from_url(web.socks_url.replace("socks5h", "socks5"), rdns=True)
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        session.get(f"http://{ONION_SITE}/faq.html") as response,
    ):
        body = await response.text()
    assert response.status == 200 and "escrow" in body.lower()
    assert ONION_SITE in web.socks.hosts


async def test_socks5_unknown_onion_is_unreachable(web: WebInThread) -> None:
    connector = ProxyConnector.from_url(web.socks_url.replace("socks5h", "socks5"), rdns=True)
    async with aiohttp.ClientSession(connector=connector) as session:
        with pytest.raises(ProxyError, match="unreachable"):
            await session.get("http://" + "a" * 56 + ".onion/")


# ---------------------------------------------------------------- link integrity and reachability


async def test_every_internal_link_resolves(web: WebInThread) -> None:
    static = [n for n, m in fictional.sites().items() if "dynamic" not in m]
    seen = await crawl(
        web.proxy_url, [f"http://{n}/" for n in static], max_depth=50, same_site=False
    )
    broken = {url: status for url, (status, _) in seen.items() if status != 200}
    assert broken == {}
    for name in static:
        pages = [url for url in seen if site_of(url) == name]
        assert len(pages) >= 3, name


async def test_every_site_reachable_from_seeds_within_depth_3(web: WebInThread) -> None:
    seen = await crawl(web.proxy_url, fictional.seeds(), max_depth=3, same_site=False)
    reached = {site_of(url) for url, (status, _) in seen.items() if status == 200}
    labelled = {n for n, m in fictional.sites().items() if m["kind"] not in ("edge", "bench")}
    assert labelled - reached == set()


async def test_sale_threads_are_served(web: WebInThread) -> None:
    threads = fictional.sale_threads()
    assert {fictional.sites()[n]["engine"] for n in threads} == {"phpbb", "xenforo", "smf"}
    async with aiohttp.ClientSession() as session:
        for urls in threads.values():
            for url in urls:
                status, _, body = await fetch(session, url, web.proxy_url)
                assert status == 200 and re.search(r"\d+\$", body.decode()), url


# ---------------------------------------------------------------- edge and bench


async def test_edge_pages(web: WebInThread) -> None:
    base, proxy = "http://edge.example", web.proxy_url
    async with aiohttp.ClientSession() as session:
        assert (await fetch(session, base + "/missing", proxy))[0] == 404
        assert (await fetch(session, base + "/error", proxy))[0] == 500
        async with session.get(base + "/redirect/1", proxy=proxy) as response:
            assert response.status == 200 and len(response.history) == 3
        assert (await fetch(session, base + "/files/report.pdf", proxy))[2].startswith(b"%PDF")
        assert (await fetch(session, base + "/img/logo.png", proxy))[2].startswith(b"\x89PNG")
        with pytest.raises(UnicodeDecodeError):
            (await fetch(session, base + "/broken-utf8", proxy))[2].decode()
        assert len((await fetch(session, base + "/huge", proxy))[2]) > 3_000_000
        assert b"Disallow: /private/" in (await fetch(session, base + "/robots.txt", proxy))[2]
        _, _, trap = await fetch(session, base + "/calendar/2024/12", proxy)
        assert "/calendar/2025/01" in trap.decode()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(fetch(session, base + "/slow", proxy), timeout=0.5)


async def test_bench_pages(web: WebInThread) -> None:
    async with aiohttp.ClientSession() as session:
        for n in (0, 1, 7, BENCH_PAGES - 1):
            status, _, body = await fetch(session, f"http://bench.example/p/{n}", web.proxy_url)
            assert status == 200 and 5_000 <= len(body) <= 15_000
            assert 5 <= len(page_links(f"http://bench.example/p/{n}", body, "utf-8")) <= 10
            assert ("Магазин" in body.decode()) == (bench_label(n) == "drugs")
        assert (await fetch(session, f"http://bench.example/p/{BENCH_PAGES}", web.proxy_url))[
            0
        ] == 404


# ---------------------------------------------------------------- metadata and content


def test_metadata() -> None:
    sites = fictional.sites()
    assert len(sites) >= 32
    for name, meta in sites.items():
        assert re.fullmatch(r"[a-z0-9-]+\.(example|onion)", name), name
        assert (
            meta["kind"] and meta["lang"] and meta["expected"] in ("drugs", "benign", "unscored")
        ), name
    flagged, negatives = fictional.expected_flagged(), fictional.hard_negatives()
    assert len(flagged) >= 15 and len(negatives) >= 10 and not flagged & negatives
    assert sum(meta["kind"] == "dead-drop-shop" for meta in sites.values()) >= 8
    assert {meta["lang"] for meta in sites.values()} >= {"ru", "be", "uk", "en"}
    assert any(site_of(seed).endswith(".onion") for seed in fictional.seeds())


def _btc_valid(address: str) -> bool:
    if address.lower().startswith(("bc1", "ltc1")):
        return _bech32_valid(address)
    try:
        return base58.b58decode_check(address)[0] in (0x00, 0x05, 0x30)
    except ValueError:
        return False


def _bech32_valid(address: str) -> bool:
    charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
    hrp, _, data = address.lower().rpartition("1")
    values = (
        [ord(c) >> 5 for c in hrp]
        + [0]
        + [ord(c) & 31 for c in hrp]
        + [charset.index(c) for c in data]
    )
    check = 1
    for value in values:
        top = check >> 25
        check = (check & 0x1FFFFFF) << 5 ^ value
        for i, generator in enumerate((0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)):
            check ^= generator if (top >> i) & 1 else 0
    return check == (1 if data[0] == "q" else 0x2BC830A3)


def _luhn_valid(number: str) -> bool:
    digits = [int(d) for d in reversed(number)]
    return (
        sum(d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2) for i, d in enumerate(digits)) % 10
        == 0
    )


def _onion_valid(host: str) -> bool:
    raw = base64.b32decode(host.removesuffix(".onion").upper())
    key, checksum, version = raw[:32], raw[32:34], raw[34:]
    return (
        version == b"\x03"
        and hashlib.sha3_256(b".onion checksum" + key + b"\x03").digest()[:2] == checksum
    )


VALIDATORS = {
    "btc": _btc_valid,
    "ltc": _btc_valid,
    "trc20": lambda a: base58.b58decode_check(a)[0] == 0x41,
    "card": _luhn_valid,
    "onion": _onion_valid,
    "xmr": lambda a: len(a) == 95 and a[0] == "4",
    "eth": lambda a: re.fullmatch(r"0x[0-9a-fA-F]{40}", a) is not None,
}


def test_entities_are_well_formed() -> None:
    for name in fictional.sites():
        for kind, values in fictional.entities(name).items():
            for value in values:
                assert VALIDATORS.get(kind, bool)(value), (name, kind, value)
        for kind, values in fictional.invalid_entities(name).items():
            for value in values:
                assert not VALIDATORS[kind](value), (name, kind, value)
    assert all(_onion_valid(n) for n in fictional.sites() if n.endswith(".onion"))


async def test_entities_appear_on_their_site(web: WebInThread) -> None:
    static = [n for n, m in fictional.sites().items() if "dynamic" not in m]
    seen = await crawl(
        web.proxy_url, [f"http://{n}/" for n in static], max_depth=50, same_site=True
    )
    async with aiohttp.ClientSession() as session:
        for name in static:
            charset = fictional.sites()[name].get("charset", "utf-8")
            bodies = [
                (await fetch(session, url, web.proxy_url))[2]
                for url in seen
                if site_of(url) == name
            ]
            text = "".join(b.decode(charset) for b in bodies)
            squeezed = re.sub(r"[\s()-]", "", text)
            listed = {**fictional.entities(name), **fictional.invalid_entities(name)}
            for values in listed.values():
                for value in values:
                    assert value in text or value in squeezed, (name, value)


async def test_hostile_shop_carries_payloads(web: WebInThread) -> None:
    async with aiohttp.ClientSession() as session:
        _, _, body = await fetch(session, "http://bazar-grodno.example/", web.proxy_url)
    html = body.decode()
    for payload in (
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        'href="javascript:alert(1)"',
        "<svg onload=",
        "<iframe src=",
    ):
        assert payload in html
    title = lxml.html.fromstring(html).findtext(".//title")
    assert title == fictional.sites()["bazar-grodno.example"]["title"]


def test_command_line_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tests.web", "--help"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0 and "--port" in result.stdout
