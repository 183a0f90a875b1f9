"""Crawl components one by one: safety guard, routing, meta refresh, the aiohttp download handler,
batching."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest
from aiohttp import web as aioweb
from scrapy import Request
from scrapy.exceptions import NotConfigured
from scrapy.http import Headers, HtmlResponse
from scrapy.statscollectors import MemoryStatsCollector
from scrapy.utils.misc import load_object
from scrapy.utils.test import get_crawler

from crawler.batching import MicroBatcher
from crawler.download import RoutingDownloadHandler, TorUnavailableError
from crawler.extract import Extracted
from crawler.items import PageItem
from crawler.middlewares.refresh import MetaRefreshMiddleware
from crawler.middlewares.routing import RoutingMiddleware
from crawler.middlewares.safety import BlockedAddressError, SafetyMiddleware
from crawler.spiders.trawler import TrawlerSpider, _headers
from crawler.stats import CrawlStats
from tests.conftest import ROOT, free_port

ONION = "tk7yjy3znq4udda42z4jlgkjnon2ejzh36q7vtrunqophbtwwndw5cad.onion"


def _safety(**settings: object) -> SafetyMiddleware:
    return SafetyMiddleware.from_crawler(get_crawler(settings_dict=settings))


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/", "http://10.1.2.3/admin", "http://192.168.0.1/", "http://[::1]/",
    "http://169.254.169.254/latest/meta-data/", "http://localhost:8080/", "http://a.localhost/",
    "http://vm/",  # a name that resolves to loopback (/etc/hosts)
    "ftp://example.org/",
])
async def test_safety_refuses_private_addresses(url: str) -> None:
    with pytest.raises(BlockedAddressError):
        await _safety().process_request(Request(url))


@pytest.mark.parametrize("url", [
    "http://93.184.216.34/", f"http://{ONION}/", "http://no-such-host.invalid/",
])
async def test_safety_lets_public_onion_and_unresolvable_through(url: str) -> None:
    assert await _safety().process_request(Request(url)) is None


async def test_safety_checks_only_literals_when_a_proxy_resolves() -> None:
    mw = _safety()
    assert await mw.process_request(Request("http://shop.example/", meta={"proxy": "x"})) is None
    with pytest.raises(BlockedAddressError):
        await mw.process_request(Request("http://127.0.0.1/", meta={"proxy": "http://p:1"}))


def test_safety_can_be_switched_off_by_configuration() -> None:
    with pytest.raises(NotConfigured):
        _safety(TRAWLER_ALLOW_PRIVATE=True)


def test_routing_sets_proxy_for_clear_web_and_never_for_onion() -> None:
    mw = RoutingMiddleware("http://127.0.0.1:3128")
    clear, onion = Request("http://www.shop.example/x"), Request(f"http://{ONION}/")
    mw.process_request(clear)
    mw.process_request(onion)
    assert clear.meta["proxy"] == "http://127.0.0.1:3128"
    assert clear.meta["download_slot"] == "shop.example"  # politeness per site
    assert onion.meta["proxy"] is None


def _handler(**settings: object) -> RoutingDownloadHandler:
    return RoutingDownloadHandler(get_crawler(settings_dict=settings))


async def test_handler_fetches_through_the_http_proxy(web) -> None:
    handler = _handler()
    try:
        response = await handler.download_request(
            Request("http://shop-minsk.example/", meta={"proxy": web.proxy_url}))
    finally:
        await handler.close()
    assert response.status == 200
    assert response.meta["route"] == "proxy"
    assert b"<html" in response.body.lower()
    assert str(response.ip_address) == "127.0.0.1"


async def test_handler_truncates_instead_of_dropping_a_large_body(web) -> None:
    handler = _handler(TRAWLER_MAX_PAGE_BYTES=1000)
    try:
        response = await handler.download_request(
            Request("http://shop-minsk.example/", meta={"proxy": web.proxy_url}))
    finally:
        await handler.close()
    assert len(response.body) == 1000
    assert "truncated" in response.flags


async def test_onion_goes_through_socks_and_never_the_http_proxy(web) -> None:
    handler = _handler(TRAWLER_TOR=web.socks_url)
    before = len(web.socks.requests)
    try:
        response = await handler.download_request(Request(f"http://{ONION}/", meta={"proxy": None}))
    finally:
        await handler.close()
    assert response.status == 200 and response.meta["route"] == "tor"
    assert response.ip_address is None  # the peer is the SOCKS proxy, not the site
    assert any(r.host == ONION for r in web.socks.requests[before:])


async def test_tor_down_is_reported_as_such() -> None:
    handler = _handler(TRAWLER_TOR=f"socks5h://127.0.0.1:{free_port()}")
    try:
        with pytest.raises(TorUnavailableError):
            await handler.download_request(Request(f"http://{ONION}/"))
    finally:
        await handler.close()


async def test_handler_sends_and_keeps_every_header_value() -> None:
    """Request headers go out as set; a response's repeated header keeps each value, in order."""
    seen: dict[str, list[str]] = {}

    async def answer(request: aioweb.Request) -> aioweb.Response:
        seen.update({k.lower(): request.headers.getall(k) for k in request.headers})
        response = aioweb.Response(text="<html></html>", content_type="text/html")
        response.headers.add("Set-Cookie", "a=1")
        response.headers.add("Set-Cookie", "b=2")
        response.headers.add("x-lower-case", "yes")
        return response

    app = aioweb.Application()
    app.router.add_get("/", answer)
    runner = aioweb.AppRunner(app)
    await runner.setup()
    site = aioweb.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    handler = _handler()
    try:
        response = await handler.download_request(Request(
            f"http://127.0.0.1:{port}/",
            headers={"Accept-Language": "ru", "x-trawler": ["one", "two"]}))
    finally:
        await handler.close()
        await runner.cleanup()
    assert seen["accept-language"] == ["ru"] and seen["x-trawler"] == ["one", "two"]
    assert response.headers.getlist("set-cookie") == [b"a=1", b"b=2"]
    assert response.headers["X-Lower-Case"] == b"yes"
    assert _headers(response.headers)["Set-Cookie"] == "a=1, b=2"


def test_headers_as_text_match_what_scrapy_headers_hold() -> None:
    headers = Headers([("content-TYPE", "text/html"), (b"X-Twice", b"1"), ("x-twice", 2)])
    assert _headers(headers) == {
        k.decode(): b", ".join(v).decode() for k, v in headers.items()}
    assert _headers(headers) == {"Content-Type": "text/html", "X-Twice": "1, 2"}


_LOG_LEVEL_PROBE = """
import logging
from scrapy.crawler import CrawlerProcess
from crawler.config import load_config
from crawler.runner import run_crawl
CrawlerProcess.start = lambda self, *a, **k: None  # build the crawl, do not run it
run_crawl(load_config(data=__import__("sys").argv[1]), [{"url": "http://shop.example/"}])
print(logging.getLogger("scrapy.core.engine").isEnabledFor(logging.INFO))
"""


def test_records_below_the_log_level_are_not_even_built(tmp_path) -> None:
    """Scrapy logs every response at DEBUG: a record built per page only to be dropped."""
    out = subprocess.run([sys.executable, "-c", _LOG_LEVEL_PROBE, str(tmp_path)], cwd=ROOT,
                         capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-1] == "False"


def test_crawl_stats_keep_what_scrapys_collector_keeps(tmp_path) -> None:
    from crawler.config import load_config
    from crawler.runner import crawl_settings

    settings = crawl_settings(load_config(data=tmp_path))
    assert load_object(settings["STATS_CLASS"]) is CrawlStats
    assert not settings.getbool("DOWNLOADER_STATS")  # its downloader/* counters go unread
    crawler = get_crawler()
    kept = []
    for stats in (MemoryStatsCollector(crawler), CrawlStats(crawler)):
        stats.open_spider()
        stats.inc_value("trawler/pages")
        stats.inc_value("trawler/pages", 2)
        stats.inc_value("trawler/errors/dns", start=5)
        stats.max_value("depth", 3)
        stats.max_value("depth", 1)
        stats.min_value("least", 4)
        stats.set_value("trawler/progress", {"pages": 3})
        kept.append((dict(stats.get_stats()), stats.get_value("trawler/pages"),
                     stats.get_value("absent", 7)))
        stats.close_spider(reason="finished")
    assert kept[0] == kept[1]
    assert kept[1][0]["trawler/errors/dns"] == 6 and kept[1][1] == 3


def _page_with_links(*links: str) -> PageItem:
    return PageItem(url="http://a.example/", site="a.example", status=200,
                    extracted=Extracted(links=list(links)))


def test_spider_follows_new_links_only_up_to_the_page_limit() -> None:
    spider = TrawlerSpider(seeds=[{"url": "http://a.example/"}], max_pages=3, depth=5)
    spider.seen.add("http://a.example/")
    page = _page_with_links("http://a.example/", "http://a.example/#top", "http://a.example/1",
                            "http://a.example/r.PDF?x=1", "http://a.example/1#again",
                            "http://a.example/2#part", "http://a.example/3")
    requests = list(spider._children(page, None, 0, 0))
    assert [r.url for r in requests] == ["http://a.example/1", "http://a.example/2"]
    assert [r.meta["page_depth"] for r in requests] == [1, 1]
    # Fresh meta, nothing copied from the response (no need for MetaCopyDetectionMiddleware).
    assert {key for r in requests for key in r.meta} == {"page_depth", "seed", "frontier_url"}
    assert spider.seen == {"http://a.example/", "http://a.example/1", "http://a.example/2"}


async def test_links_of_deeper_pages_wait_their_turn(tmp_path) -> None:
    """Breadth first: the spider does what Scrapy's DepthMiddleware did (it is switched off)."""
    from crawler.config import load_config
    from crawler.runner import crawl_settings

    settings = crawl_settings(load_config(data=tmp_path))
    assert settings.getdict("SPIDER_MIDDLEWARES")[
        "scrapy.spidermiddlewares.depth.DepthMiddleware"] is None
    spider = TrawlerSpider(seeds=[{"url": "http://a.example/"}], max_pages=10, depth=5)
    spider.depth_priority = settings.getint("DEPTH_PRIORITY")
    body = b'<html><body><a href="/1">1</a> <a href="/2">2</a></body></html>'
    children = {}
    for hops in (None, 2):  # a seed (or resumed URL) has no depth yet
        meta = {"page_depth": 0, "seed": 0} if hops is None else {"page_depth": 3, "seed": 0,
                                                                  "depth": hops}
        url = f"http://a.example/{hops}"
        response = HtmlResponse(url, body=body, request=Request(url, meta=meta))
        spider.seen.clear()
        out = [o async for o in spider.parse(response)]
        children[hops] = [(o.priority, o.meta["depth"]) for o in out if isinstance(o, Request)]
    assert children == {None: [(-1, 1), (-1, 1)], 2: [(-3, 3), (-3, 3)]}


def test_a_full_crawl_does_not_even_read_the_links(monkeypatch) -> None:
    spider = TrawlerSpider(seeds=[{"url": "http://a.example/"}], max_pages=1, depth=5)
    spider.seen.add("http://a.example/")
    monkeypatch.setattr(spider, "follow_links", lambda *_: pytest.fail("links read"))
    assert list(spider._children(_page_with_links("http://a.example/9"), None, 0, 0)) == []


async def test_pages_arriving_together_are_stored_in_one_transaction(tmp_path) -> None:
    from crawler.pipelines.store import StorePipeline

    store = StorePipeline(get_crawler(settings_dict={
        "TRAWLER_DB_URL": f"sqlite:///{tmp_path / 'trawler.db'}"}))
    batches: list[int] = []
    save_batch = store._save_batch

    async def counted(items: list[PageItem]) -> list[int]:
        batches.append(len(items))
        return await save_batch(items)

    store._batcher.handler = counted
    await store.open_spider()

    async def arrive(n: int) -> PageItem:
        await asyncio.sleep(0.02 * n)  # a page every 20 ms, as a busy crawl delivers them
        return await store.process_item(PageItem(url=f"http://a.example/{n}", site="a.example",
                                                 status=200, body=b"x"))

    try:
        items = await asyncio.gather(*(arrive(n) for n in range(5)))
    finally:
        await store.close_spider()
    assert batches == [5]
    assert len({item.page_id for item in items}) == 5
    assert store.stats.get_value("trawler/pages") == 5


async def test_micro_batcher_batches_and_keeps_order() -> None:
    sizes: list[int] = []

    async def double(items: list[int]) -> list[int]:
        sizes.append(len(items))
        await asyncio.sleep(0)
        return [2 * i for i in items]

    batcher: MicroBatcher[int, int] = MicroBatcher(double, max_size=10, max_wait=0.01)
    results = await asyncio.gather(*(batcher.submit(i) for i in range(25)))
    assert results == [2 * i for i in range(25)]
    assert sizes == [10, 10, 5]


async def test_micro_batcher_serves_one_awaited_item_after_another() -> None:
    """Each submit awaited before the next (as a pipeline does): the worker that served the last
    one has ended, and the next item must still get a worker."""
    async def double(items: list[int]) -> list[int]:
        return [2 * i for i in items]

    batcher: MicroBatcher[int, int] = MicroBatcher(double, max_size=4, max_wait=0.001)

    async def one_after_another() -> list[int]:
        return [await batcher.submit(i) for i in range(20)]  # in this task, as a pipeline does

    assert await asyncio.wait_for(one_after_another(), timeout=5) == [2 * i for i in range(20)]
    await asyncio.wait_for(batcher.drain(), timeout=5)


async def test_micro_batcher_runs_batches_side_by_side() -> None:
    running, most = 0, 0

    async def slow(items: list[int]) -> list[int]:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.05)
        running -= 1
        return items

    batcher: MicroBatcher[int, int] = MicroBatcher(slow, max_size=2, max_wait=0.001,
                                                   max_in_flight=3)
    assert await asyncio.gather(*(batcher.submit(i) for i in range(12))) == list(range(12))
    assert most == 3


async def test_micro_batcher_reports_a_failure_to_every_waiter_and_goes_on() -> None:
    async def fail_on_three(items: list[int]) -> list[int]:
        if 3 in items:
            raise ValueError("bad batch")
        return items

    batcher: MicroBatcher[int, int] = MicroBatcher(fail_on_three, max_size=2, max_wait=0.001)
    results = await asyncio.gather(*(batcher.submit(i) for i in range(6)),
                                   return_exceptions=True)
    assert results[:2] == [0, 1]
    assert all(isinstance(r, ValueError) for r in results[2:4])
    assert results[4:] == [4, 5]


async def test_a_classifier_failure_keeps_the_page_without_a_verdict() -> None:
    from scrapy.statscollectors import MemoryStatsCollector

    from crawler.extract import Extracted
    from crawler.items import PageItem
    from crawler.pipelines.classify import ClassifyPipeline

    class Broken:
        version, threshold = "broken-1", 0.5

        def classify(self, docs):
            raise ValueError("feature extraction blew up")

    crawler = get_crawler()
    stats = MemoryStatsCollector(crawler)
    pipeline = ClassifyPipeline(Broken(), stats=stats)  # type: ignore[arg-type]
    item = PageItem(url="http://shop.example/", site="shop.example", status=200,
                    extracted=Extracted(title="t", text="клад"))
    assert await pipeline.process_item(item) is item
    assert item.verdict is None
    assert stats.get_value("trawler/errors/classify") == 1
    await pipeline.close_spider()


@pytest.mark.parametrize("encoding", ["utf-8", "cp1251", "utf-16"])
def test_meta_refresh_is_followed_in_any_encoding(encoding: str) -> None:
    middleware = MetaRefreshMiddleware.from_crawler(get_crawler())
    request = Request("http://edge.example/meta-refresh")
    html = ('<html><head><META HTTP-EQUIV="Refresh" content="0; url=/redirect/final"></head>'
            "<body><p>Переходим…</p></body></html>")
    response = HtmlResponse(request.url, body=html.encode(encoding), request=request,
                            headers={"Content-Type": f"text/html; charset={encoding}"})
    redirected = middleware.process_response(request, response)
    assert isinstance(redirected, Request)
    assert redirected.url == "http://edge.example/redirect/final"

    plain = HtmlResponse(request.url, body="<p>refresh нет, только слово</p>".encode(encoding),
                         request=request,
                         headers={"Content-Type": f"text/html; charset={encoding}"})
    assert middleware.process_response(request, plain) is plain
    without = HtmlResponse(request.url, body=b"<p>nothing here</p>" * 100, request=request)
    assert middleware.process_response(request, without) is without
