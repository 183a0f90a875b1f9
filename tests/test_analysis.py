"""Page analysis in worker processes: the same results as in-process; a dead worker loses none."""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from crawler.analysis import Analyser, RawPage, _ready, analyse_pages
from crawler.config import ConfigError, load_config, worker_count
from tests import web as fictional
from tests.conftest import ROOT, trawler

SHOP = ("<html><head><title>Магазин</title></head><body><h1>Мефедрон 1 г — 2500 ₽</h1>"
        "<p>Клад в течение часа. BTC: 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2</p>"
        "<a href='/cart'>Корзина</a> <a href='mailto:shop@example.org'>почта</a></body></html>")


def page(n: int) -> RawPage:
    return RawPage(f"http://shop.example/p/{n}", SHOP.encode(), "text/html; charset=utf-8", 200,
                   True)


def test_worker_count_reads_the_setting() -> None:
    assert worker_count(0) == 0 and worker_count(3) == 3
    assert worker_count("auto") == max(1, min(8, len(os.sched_getaffinity(0)) - 1))
    for bad in (-1, "many", 1.5, True):
        with pytest.raises(ValueError, match="analysis_workers"):
            worker_count(bad)  # type: ignore[arg-type]


def test_a_bad_worker_setting_is_a_config_error(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[crawl]\nanalysis_workers = "lots"\n')
    with pytest.raises(ConfigError, match=r"\[crawl\] analysis_workers"):
        load_config(config_file=config)


def test_analyse_pages_extracts_and_finds_entities_without_a_model() -> None:
    result, = analyse_pages([page(1)])
    assert result.failure is None and result.verdict is None
    assert result.extracted is not None and result.extracted.title == "Магазин"
    assert "http://shop.example/cart" in result.extracted.links
    assert {(e.kind, e.value) for e in result.entities} >= {
        ("btc", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"), ("email", "shop@example.org")}


def test_a_killed_worker_costs_no_page() -> None:
    async def scenario() -> None:
        analyser = Analyser(1, None)
        try:
            first = await asyncio.wrap_future(analyser._pool.submit(_ready))
            os.kill(first, signal.SIGKILL)  # as if a hostile page had crashed the parser
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:  # the pool notices its dead worker
                try:
                    await asyncio.wrap_future(analyser._pool.submit(_ready))
                except Exception:
                    break
                await asyncio.sleep(0.05)
            results = await asyncio.gather(*(analyser.analyse(page(n)) for n in range(5)))
            assert all(r.failure is None and r.extracted is not None for r in results)
            second = await asyncio.wrap_future(analyser._pool.submit(_ready))
            assert second != first, "the broken pool was not replaced"
        finally:
            await analyser.close()

    asyncio.run(scenario())


_FORKED_WORKER = r"""
import asyncio, json, os, signal, sys, threading, time
from crawler.analysis import Analyser, RawPage, _ready

async def main():
    # The crawl process's own handler (Scrapy's graceful shutdown) must not keep a worker alive.
    signal.signal(signal.SIGTERM, lambda *_: None)
    if sys.argv[1] == "thread":
        threading.Thread(target=time.sleep, args=(30,), daemon=True).start()
    analyser = Analyser(1, None)
    page = RawPage("http://shop.example/", sys.argv[2].encode(), "text/html", 200, True)
    result = await analyser.analyse(page)
    worker = await asyncio.wrap_future(analyser._pool.submit(_ready))
    os.kill(worker, signal.SIGTERM)
    for _ in range(200):
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        sys.exit("the worker outlived SIGTERM")
    print(json.dumps({"method": analyser.start_method, "title": result.extracted.title}))
    await analyser.close()

asyncio.run(main())
"""


@pytest.mark.parametrize(("threads", "method"), [("none", "fork"), ("thread", "spawn")])
def test_workers_fork_only_from_a_process_without_other_threads(threads: str,
                                                                 method: str) -> None:
    """The first pool forks while the crawl process is single-threaded (its workers start with
    the classifier's modules already there); with another thread running it spawns. A forked
    worker dies on SIGTERM though the crawl process handles that signal."""
    out = subprocess.run([sys.executable, "-c", _FORKED_WORKER, threads, SHOP], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["method"] == method and result["title"] == "Магазин"


def test_a_stuck_worker_is_replaced_and_its_batch_analysed_again() -> None:
    """A worker that stops answering (here: SIGSTOP, as if a hostile page sent it into an endless
    loop) is killed after the timeout; its batch is analysed again in a fresh pool."""
    async def scenario() -> None:
        analyser = Analyser(1, None, timeout=5)
        try:
            first = await asyncio.wrap_future(analyser._pool.submit(_ready))
            os.kill(first, signal.SIGSTOP)
            started = time.monotonic()
            results = await asyncio.gather(*(analyser.analyse(page(n)) for n in range(5)))
            assert time.monotonic() - started >= 5
            assert all(r.failure is None and r.extracted is not None for r in results)
            second = await asyncio.wrap_future(analyser._pool.submit(_ready))
            assert second != first
            with pytest.raises(ProcessLookupError):  # the stuck worker was killed, not left
                for _ in range(100):
                    os.kill(first, 0)
                    time.sleep(0.05)
        finally:
            await analyser.close()

    asyncio.run(scenario())


def test_a_page_that_stalls_every_worker_is_stored_without_analysis() -> None:
    """When each worker stalls (every process the pool starts is stopped), every page comes back
    with the timeout as its failure: the crawl goes on instead of waiting for ever."""
    stop = threading.Event()

    def stall_workers() -> None:
        while not stop.is_set():
            for child in multiprocessing.active_children():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child.pid, signal.SIGSTOP)
            time.sleep(0.01)

    async def scenario() -> None:
        analyser = Analyser(1, None, timeout=0.5)
        stopper = threading.Thread(target=stall_workers, daemon=True)
        stopper.start()
        try:
            results = await asyncio.wait_for(
                asyncio.gather(*(analyser.analyse(page(n)) for n in range(3))), 60)
            assert [r.failure for r in results] == [
                "analysis: no result within 0.5 s on this page"] * 3
            assert all(r.extracted is None and r.verdict is None for r in results)
        finally:
            stop.set()
            stopper.join()
            for child in multiprocessing.active_children():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child.pid, signal.SIGCONT)
            await analyser.close()

    asyncio.run(scenario())


def test_a_bad_analysis_timeout_is_refused(tmp_path: Path) -> None:
    for bad in ("1 minute", 0, -5, True):
        config = tmp_path / "bad.toml"
        config.write_text(f"[crawl]\nanalysis_timeout = {json.dumps(bad)}\n")
        with pytest.raises(ConfigError, match=r"\[crawl\] analysis_timeout"):
            load_config(config_file=config)
    with pytest.raises(ValueError, match="analysis_timeout"):
        Analyser(1, None, timeout=0)


@pytest.mark.skipif(not load_config().model_path.exists(),
                    reason="no trained model in models/trawler")
def test_workers_and_in_process_store_the_same_crawl(web, tmp_path: Path) -> None:
    """Pages, verdicts, entities, sites and forum posts do not depend on where the analysis
    ran."""
    sale_threads = sorted(url for urls in fictional.sale_threads().values() for url in urls)[:3]

    def crawl(workers: int) -> tuple[set[tuple[object, ...]], ...]:
        data = tmp_path / f"workers-{workers}"
        data.mkdir()
        config = data / "c.toml"
        config.write_text(f"[crawl]\ntimeout = 4\nanalysis_workers = {workers}\n")
        result = trawler("crawl", str(ROOT / "configs/seeds/demo.yaml"), *sale_threads,
                         "--proxy", web.proxy_url,
                         "--tor", web.socks_url, "--max-pages", "120", "--depth", "2", "-q",
                         data=data, env={"TRAWLER_CONFIG": str(config)})
        assert result.returncode == 0, result.stderr[-3000:]
        db = sqlite3.connect(data / "trawler.db")
        try:
            pages = set(db.execute("select url, status, title, lang, text from pages"))
            verdicts = set(db.execute(
                "select p.url, v.label, round(v.score, 6) from verdicts v "
                "join pages p on p.id = v.page_id"))
            entities = set(db.execute(
                "select p.url, e.kind, e.value from page_entities pe join pages p on "
                "p.id = pe.page_id join entities e on e.id = pe.entity_id"))
            sites = set(db.execute("select name, flagged, round(score, 6) from sites"))
            posts = set(db.execute(
                "select p.url, f.position, f.label, round(f.score, 6), f.flagged from posts f "
                "join pages p on p.id = f.page_id"))
        finally:
            db.close()
        return pages, verdicts, entities, sites, posts

    in_process, workers = crawl(0), crawl(1)
    assert len(in_process[0]) > 30 and len(in_process[1]) > 30 and in_process[2]
    assert any(flagged for *_, flagged in in_process[4]), "no flagged forum post reached"
    for name, a, b in zip(("pages", "verdicts", "entities", "sites", "posts"), in_process,
                          workers, strict=True):
        assert a == b, f"{name} differ: {sorted(a ^ b)[:5]}"


def test_with_workers_the_crawl_process_classifies_nothing() -> None:
    """Pages and posts are classified in the workers; the in-process pipelines stand down."""
    from scrapy.exceptions import NotConfigured
    from scrapy.utils.test import get_crawler

    from crawler.forums.pipeline import PostClassifyPipeline
    from crawler.pipelines.classify import ClassifyPipeline

    settings = {"TRAWLER_MODEL_PATH": str(ROOT / "models/trawler"),
                "TRAWLER_ANALYSIS_WORKERS": 1}
    for pipeline in (ClassifyPipeline, PostClassifyPipeline):
        with pytest.raises(NotConfigured):
            pipeline.from_crawler(get_crawler(settings_dict=settings))
