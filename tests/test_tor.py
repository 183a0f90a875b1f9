"""Tor: the health check against a local SOCKS5 server, and what a job does when Tor is down."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from scrapy import Request
from scrapy.exceptions import CloseSpider
from twisted.python.failure import Failure

from crawler.config import load_config
from crawler.download import TorUnavailableError
from crawler.spiders.trawler import TrawlerSpider
from crawler.tor import check_tor
from tests.conftest import free_port, trawler
from tests.web.socks import SocksServer

ONION = "tk7yjy3znq4udda42z4jlgkjnon2ejzh36q7vtrunqophbtwwndw5cad.onion"
DEAD_ONION = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaad.onion"
needs_model = pytest.mark.skipif(not load_config().model_path.exists(),
                                 reason="no trained model in models/trawler")


async def test_tor_down_is_said_plainly() -> None:
    url = f"socks5h://127.0.0.1:{free_port()}"
    health = await check_tor(url, [f"http://{ONION}/"], timeout=2)
    assert not health.ok
    assert f"Tor is not answering at {url}" in health.message
    assert "not marked dead" in health.message


async def test_not_a_socks_url() -> None:
    health = await check_tor("http://127.0.0.1:9050")
    assert not health.ok and "socks5h://" in health.message


async def test_tor_up_reaches_onion_seeds(web) -> None:
    async with SocksServer(web.port, known_hosts={ONION}) as socks:
        health = await check_tor(socks.url, [f"http://{ONION}/", f"http://{ONION}/faq"])
        assert health.ok and health.reachable == [ONION]
        assert ONION in socks.hosts  # the check asked the proxy, by name (socks5h)


async def test_tor_up_but_onions_unreachable_is_still_up(web) -> None:
    async with SocksServer(web.port, known_hosts={ONION}) as socks:
        health = await check_tor(socks.url, [f"http://{DEAD_ONION}/"])
    assert health.ok
    assert health.unreachable == {DEAD_ONION: "host unreachable"}
    assert "reached none" in health.message


async def test_a_proxy_that_is_not_socks5_is_not_tor() -> None:
    async def http_server(reader, writer) -> None:  # type: ignore[no-untyped-def]
        await reader.read(10)
        writer.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        await writer.drain()
        writer.close()

    import asyncio

    server = await asyncio.start_server(http_server, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        health = await check_tor(f"socks5h://127.0.0.1:{port}", timeout=2)
    finally:
        server.close()
    assert not health.ok and "SOCKS5" in health.message


def test_spider_leaves_onion_unfetched_and_stops_when_tor_goes_down() -> None:
    spider = TrawlerSpider(seeds=[{"url": f"http://{ONION}/"}])
    request = Request(f"http://{ONION}/", meta={"frontier_url": f"http://{ONION}/"})
    failure = Failure(TorUnavailableError("Tor proxy socks5h://127.0.0.1:9: refused"))
    failure.request = request  # type: ignore[attr-defined]
    with pytest.raises(CloseSpider) as info:
        list(spider.on_error(failure))
    assert info.value.reason == "tor-down"


@needs_model
def test_job_with_onion_seeds_fails_plainly_when_tor_is_down(tmp_path: Path) -> None:
    tor = f"socks5h://127.0.0.1:{free_port()}"
    result = trawler("crawl", f"http://{ONION}/", "--job", "dark", "--tor", tor, "-q",
                     data=tmp_path)
    assert result.returncode == 2
    assert "Tor is not answering" in result.stderr and "Traceback" not in result.stderr
    db = sqlite3.connect(tmp_path / "trawler.db")
    status, error = db.execute("select status, error from jobs where name='dark'").fetchone()
    assert status == "failed" and "Tor is not answering" in error
    assert db.execute("select count(*) from pages").fetchone()[0] == 0  # nothing marked dead
    listed = json.loads(trawler("jobs", "list", "--json", data=tmp_path).stdout)
    assert listed[0]["status"] == "failed"


@needs_model
def test_onion_sites_are_crawled_through_the_socks_proxy(web, tmp_path: Path) -> None:
    before = len(web.socks.requests)
    result = trawler("crawl", f"http://{ONION}/", "--job", "dark", "--tor", web.socks_url,
                     "--proxy", web.proxy_url, "--depth", "1", "-q", data=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    db = sqlite3.connect(tmp_path / "trawler.db")
    routes = dict(db.execute("select url, route from pages where url like ?",
                             (f"%{ONION}%",)).fetchall())
    assert len(routes) > 1 and set(routes.values()) == {"tor"}
    assert ONION in {r.host for r in web.socks.requests[before:]}
    assert not [r for r in web.requests if r.host.endswith(".onion") and r.via == "proxy"]
