"""Page analysis: extraction, forum posts, entities and the verdict, in worker processes.

Reading hostile HTML and running the classifier are the crawl's CPU work. The spider hands
each fetched body to an :class:`Analyser`, which runs :func:`analyse_pages` on micro-batches in
a pool of worker processes (``[crawl] analysis_workers``; "auto" is one per spare core). The
reactor then only downloads, schedules and stores, the work spreads over the machine's cores,
and a page that crashes a parser takes down a worker, not the crawl: the pool is rebuilt and
only that page is stored without its analysis.

With ``analysis_workers = 0`` nothing is sent anywhere: the spider extracts in-process and the
entity, classify and post pipelines do the rest, through the same functions as the workers.
With workers, the crawl process classifies nothing.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

from classifiers import Document, load_model
from crawler.batching import MicroBatcher
from crawler.config import CrawlConfig, analysis_timeout
from crawler.extract import Extracted, extract_page
from crawler.extract.encoding import decode_body
from crawler.extract.entities import FoundEntity, extract_entities, non_web_links
from crawler.forums import ForumPage, read_forum_page
from crawler.forums.posts import POST_THRESHOLD, classify_posts

logger = logging.getLogger(__name__)

__all__ = ["Analyser", "Analysis", "RawPage", "analyse_pages", "page_document", "page_entities",
           "read_page"]


@dataclass
class RawPage:
    """What the spider fetched, as the worker needs it."""

    url: str
    body: bytes
    content_type: str | None
    status: int | None
    text: bool  # Scrapy took the body for text (HTML, XML, plain text)


@dataclass
class Analysis:
    extracted: Extracted | None = None
    forum: ForumPage | None = None
    entities: list[FoundEntity] = field(default_factory=list)
    verdict: Any = None  # classifiers.PageVerdict
    failure: str | None = None  # what went wrong, for the log and the stats


def read_page(page: RawPage) -> tuple[Extracted | None, ForumPage | None]:
    """Title, text, language and links of a body, and its posts when it is a forum page."""
    if not (page.text or not page.content_type):
        return None, None
    decoded = decode_body(page.body, page.content_type)
    extracted = extract_page(page.body, page.url, page.content_type, decoded)
    forum = None
    if page.text and 200 <= (page.status or 0) < 300:
        forum = read_forum_page(decoded[0], page.url)
    return extracted, forum


def page_entities(extracted: Extracted, body: bytes) -> list[FoundEntity]:
    """Payment and contact identifiers in a page's text, links and non-web hrefs."""
    links = list(extracted.links) + non_web_links(body)
    return extract_entities(f"{extracted.title}\n{extracted.text}", links)


def page_document(extracted: Extracted | None, url: str) -> Document | None:
    """The classifier's input for a page, or None when there is nothing to read."""
    if extracted is None or not (extracted.text or extracted.title):
        return None
    return Document(text=extracted.text, title=extracted.title, url=url, lang=extracted.lang)


# --- in the worker process ---------------------------------------------------------------------

_model: Any = None
_post_threshold = POST_THRESHOLD


def _start_worker(model_path: str | None, post_threshold: float = POST_THRESHOLD) -> None:
    global _model, _post_threshold
    # A forked worker inherits the crawl's handlers (Scrapy's graceful shutdown, which would keep
    # it alive on SIGTERM): it gets those a fresh process has, as a spawned worker does.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _exit_with_parent(os.getppid())
    _post_threshold = post_threshold
    if model_path:
        _model = load_model(model_path)


def _exit_with_parent(parent: int) -> None:
    """End this worker when the crawl process is gone (``kill -9`` leaves no orphans behind)."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _ready() -> int:
    return os.getpid()


def analyse_pages(pages: list[RawPage]) -> list[Analysis]:
    """Analyse a batch of pages; a failure on one page never costs the others theirs."""
    results: list[Analysis] = []
    for page in pages:
        try:
            extracted, forum = read_page(page)
            entities = page_entities(extracted, page.body) if extracted is not None else []
            results.append(Analysis(extracted, forum, entities))
        except Exception as exc:  # a parser bug on one hostile page
            logger.exception("analysing %s failed", page.url)
            results.append(Analysis(failure=f"extract: {type(exc).__name__}: {exc}"))
    if _model is not None:
        wanted = [(result, doc) for page, result in zip(pages, results, strict=True)
                  if (doc := page_document(result.extracted, page.url)) is not None]
        try:
            verdicts = _model.classify([doc for _, doc in wanted])
        except Exception as exc:
            logger.exception("classifying a batch failed")
            for result, _ in wanted:
                result.failure = f"classify: {type(exc).__name__}: {exc}"
        else:
            for (result, _), verdict in zip(wanted, verdicts, strict=True):
                result.verdict = verdict
        for page, result in zip(pages, results, strict=True):
            if result.forum is not None and result.forum.posts:
                _judge_posts(page, result)
    return results


def _judge_posts(page: RawPage, result: Analysis) -> None:
    """Each post of a forum page gets its verdict; a flagged post decides the page's."""
    assert result.forum is not None
    lang = result.extracted.lang if result.extracted else None
    try:
        verdict = classify_posts(_model, result.forum, page.url, lang, _post_threshold)
    except Exception as exc:
        logger.exception("classifying the posts of %s failed", page.url)
        result.failure = f"classify: {type(exc).__name__}: {exc}"
        return
    if verdict is not None:
        result.verdict = verdict


# --- in the crawl process ----------------------------------------------------------------------

def _start_method() -> str:
    """How worker processes start: forked while this process has no other thread (the crawl's
    first pool, made as the spider opens), so that they have the classifier's modules at once
    (a spawned worker spends about two seconds importing scikit-learn while the first pages
    wait for their links); spawned otherwise, since a process forked while another thread holds
    a lock may wait on it for ever."""
    if sys.platform.startswith("linux") and threading.active_count() == 1:
        return "fork"
    return "spawn"


class Analyser:
    """Sends pages to worker processes in micro-batches; ``await analyse(page)`` per page.

    A batch without results after ``timeout`` seconds (a worker stuck on a hostile page) has its
    pool's processes killed; its pages are then tried one at a time like those of a crashed
    worker, and the page that hangs again is stored without its analysis.
    """

    def __init__(self, workers: int, model_path: str | None, batch_size: int = 16,
                 post_threshold: float = POST_THRESHOLD,
                 timeout: float = CrawlConfig.analysis_timeout) -> None:
        self.timeout = analysis_timeout(timeout)
        self.workers = workers
        self.model_path = model_path
        self.post_threshold = post_threshold
        self._pool = self._new_pool()
        self._pool.submit(_ready)  # start the workers now: they load while the crawl starts
        # Two batches per worker in flight: one running, one on its way.
        self._batcher: MicroBatcher[RawPage, Analysis] = MicroBatcher(
            self._run, max_size=batch_size, max_wait=0.003, max_in_flight=2 * workers)

    def _new_pool(self) -> Executor:
        self.start_method = _start_method()
        return ProcessPoolExecutor(self.workers,
                                   mp_context=multiprocessing.get_context(self.start_method),
                                   initializer=_start_worker,
                                   initargs=(self.model_path, self.post_threshold))

    async def analyse(self, page: RawPage) -> Analysis:
        return await self._batcher.submit(page)

    async def _run(self, pages: list[RawPage]) -> list[Analysis]:
        pool = self._pool
        try:
            return await self._in_pool(pool, pages)
        except BrokenProcessPool:
            self._replace(pool)
        except TimeoutError:
            logger.warning("a batch of %d pages got no analysis within %g s; its workers are "
                           "replaced and its pages tried one at a time", len(pages), self.timeout)
            self._replace(pool, kill=True)
        # A worker died (a parser crashed on a hostile page, or it was killed) or hung: try each
        # page alone in a fresh pool, so only the page that kills or stalls a worker goes
        # without analysis.
        results = []
        for page in pages:
            pool = self._pool
            try:
                results.extend(await self._in_pool(pool, [page]))
            except BrokenProcessPool:
                self._replace(pool)
                logger.error("analysing %s killed a worker process; stored without analysis",
                             page.url)
                results.append(Analysis(failure="analysis: the worker process died on this page"))
            except TimeoutError:
                self._replace(pool, kill=True)
                logger.error("analysing %s took over %g s; stored without analysis", page.url,
                             self.timeout)
                results.append(Analysis(
                    failure=f"analysis: no result within {self.timeout:g} s on this page"))
        return results

    async def _in_pool(self, pool: Executor, pages: list[RawPage]) -> list[Analysis]:
        future = pool.submit(analyse_pages, pages)
        return await asyncio.wait_for(asyncio.wrap_future(future), self.timeout)

    def _replace(self, broken: Executor, kill: bool = False) -> None:
        """A fresh pool in place of ``broken`` (once, however many batches find it broken).
        ``kill``: its processes are alive but stuck, so they are killed; the batches still in
        them fail as after a crash and are retried page by page."""
        if self._pool is not broken:
            return
        self._pool = self._new_pool()
        if kill:
            # ProcessPoolExecutor has no public way to stop a running call (3.14 adds
            # ``kill_workers``); killing its processes makes it fail every call it holds.
            for process in list((getattr(broken, "_processes", None) or {}).values()):
                process.kill()
            broken.shutdown(wait=False)
        else:
            broken.shutdown(wait=False, cancel_futures=True)

    async def close(self) -> None:
        await self._batcher.drain()
        self._pool.shutdown(wait=True, cancel_futures=True)
