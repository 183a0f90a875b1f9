"""Evidence pipeline: WARC captures of drug pages and flagged sites, and screenshots of drug pages.

Runs after the store pipeline (pages have ids). Captures are written in micro-batches on one
writer thread (records appended and synced), then recorded in the database with their custody
events. Screenshots are taken by a Chromium worker thread and appended when ready, so fetching
never waits for a browser. When the disk is full the crawl stops with a clear message; every
record written before stays whole.
"""

from __future__ import annotations

import asyncio
import getpass
import hashlib
import logging
import os
import platform
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import scrapy
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from sqlalchemy import select

from crawler.batching import MicroBatcher
from crawler.evidence.custody import custody_head
from crawler.evidence.policy import DRUGS_VERDICT, CapturePolicy
from crawler.evidence.records import CaptureDone, close_files, save_captures, save_screenshot
from crawler.evidence.screenshots import ScreenshotJob, ScreenshotResult, ScreenshotWorker
from crawler.evidence.warc import SOFTWARE, CaptureInfo, ClosedFile, WarcFiles
from crawler.extract import is_html
from crawler.items import PageItem
from crawler.store import Database, open_database
from crawler.store.models import Job, Site

logger = logging.getLogger(__name__)

STORAGE_FULL = "evidence-storage-full"


def _public_url(url: str | None) -> str | None:
    """A proxy URL without its credentials, fit to be written into evidence."""
    if not url:
        return None
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class EvidencePipeline:
    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        self.crawler = crawler
        self.stats = crawler.stats
        self.db_url: str = settings["TRAWLER_DB_URL"]
        self.job_id: int | None = settings.getint("TRAWLER_JOB_ID") or None
        data_dir = Path(settings.get("TRAWLER_DATA_DIR") or "data")
        self.warc_dir = Path(settings.get("TRAWLER_WARC_DIR") or data_dir / "warc")
        self.max_warc_bytes = settings.getint("TRAWLER_WARC_MAX_BYTES", 1_000_000_000)
        self.max_page_bytes = settings.getint("TRAWLER_MAX_PAGE_BYTES", 3_000_000)
        self.user_agent: str = settings.get("USER_AGENT", "")
        self.proxies = {"proxy": settings.get("TRAWLER_PROXY") or os.environ.get("http_proxy"),
                        "tor": settings.get("TRAWLER_TOR")}
        self.operator: str | None = settings.get("TRAWLER_OPERATOR")
        self.policy = CapturePolicy(
            site_cap=settings.getint("TRAWLER_EVIDENCE_SITE_CAP", 200),
            buffer_pages=settings.getint("TRAWLER_EVIDENCE_BUFFER_PAGES", 20),
            buffer_bytes=settings.getint("TRAWLER_EVIDENCE_BUFFER_BYTES", 64_000_000))
        self.screenshot_drain_s = settings.getfloat("TRAWLER_SCREENSHOT_DRAIN_TIMEOUT", 300)
        self.screenshots: ScreenshotWorker | None = None
        if settings.getbool("TRAWLER_SCREENSHOTS", True):
            self.screenshots = ScreenshotWorker(
                javascript=settings.getbool("TRAWLER_SCREENSHOT_JAVASCRIPT", False),
                timeout=settings.getfloat("TRAWLER_SCREENSHOT_TIMEOUT", 30),
                live=settings.get("TRAWLER_SCREENSHOT_SOURCE", "archive") == "live")
        self.db: Database | None = None
        self.files: WarcFiles | None = None
        self.actor = "crawler"
        self.job_name: str | None = None
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="evidence")
        self._batcher: MicroBatcher[tuple[PageItem, str], None] = MicroBatcher(
            self._capture_batch, max_size=settings.getint("TRAWLER_EVIDENCE_BATCH", 32),
            max_wait=0.05)
        self._pending: dict[asyncio.Task[None], tuple[int, int]] = {}
        self._stopped: str | None = None
        self._stopping: asyncio.Future[Any] | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> EvidencePipeline:
        if not crawler.settings.getbool("TRAWLER_EVIDENCE", True):
            raise NotConfigured("evidence capture switched off")
        if not crawler.settings.get("TRAWLER_DB_URL"):
            raise NotConfigured("no database configured")
        return cls(crawler)

    async def open_spider(self) -> None:
        self.db = await open_database(self.db_url)
        job = None
        if self.job_id is not None:
            async with self.db.session() as session:
                job = await session.get(Job, self.job_id)
        self.job_name = job.name if job else None
        operator = self.operator or (job.created_by if job else None) or getpass.getuser()
        self.actor = f"crawler:{self.job_name}" if self.job_name else "crawler"
        prefix = "trawler-" + (self.job_name or "crawl").replace("/", "_").replace(" ", "_")
        self.files = WarcFiles(self.warc_dir, prefix, self.max_warc_bytes, {
            "software": f"{SOFTWARE} (warcio {version('warcio')}, Scrapy {scrapy.__version__})",
            "format": "WARC File Format 1.1",
            "conformsTo": "https://iipc.github.io/warc-specifications/specifications/"
                          "warc-format/warc-1.1/",
            "hostname": platform.node(),
            "operator": operator,
            "job": f"{self.job_name} (id {self.job_id})" if self.job_name else "",
            "http-header-user-agent": self.user_agent,
            "proxy": _public_url(self.proxies["proxy"]) or "",
            "tor-proxy": _public_url(self.proxies["tor"]) or "",
            "robots": "recorded, not obeyed",
            "description": "trawler evidence: pages with a drugs verdict and pages of flagged "
                           "sites; metadata records hold the verdict and entities",
        })

    async def _site_flagged(self, site_id: int | None) -> bool:
        """Whether an earlier crawl already flagged the site."""
        if site_id is None or self.db is None:
            return False
        async with self.db.session() as session:
            return bool(await session.scalar(select(Site.flagged).where(Site.id == site_id)))

    async def process_item(self, item: PageItem) -> PageItem:
        if item.page_id is None or item.error or item.status is None or self._stopped:
            return item
        if not self.policy.knows(item.site):
            self.policy.add_site(item.site, await self._site_flagged(item.site_id))
        chosen = self.policy.decide(item)
        if chosen:
            await asyncio.gather(*(self._batcher.submit(pair) for pair in chosen))
        return item

    # --- captures ------------------------------------------------------------------------------

    def _write_batch(self, pairs: list[tuple[PageItem, str]], custody: tuple[int, str]
                     ) -> tuple[list[CaptureDone], list[ClosedFile], str | None]:
        """On the writer thread: append each capture; stop at the first write failure."""
        assert self.files is not None
        done: list[CaptureDone] = []
        closed: list[ClosedFile] = []
        for item, reason in pairs:
            info = CaptureInfo(reason=reason, max_page_bytes=self.max_page_bytes,
                               custody_count=custody[0], custody_head=custody[1],
                               job=self.job_name)
            try:
                records, appended = self.files.append_capture(item, info)
                done.append(CaptureDone(item, reason, records, appended))
                if (finished := self.files.rotate_if_full(item.route)) is not None:
                    closed.append(finished)
            except OSError as exc:
                return done, closed, str(exc)
        return done, closed, None

    async def _capture_batch(self, pairs: list[tuple[PageItem, str]]) -> list[None]:
        assert self.db is not None
        if self._stopped:
            return [None] * len(pairs)
        async with self.db.session() as session:
            custody = await custody_head(session)
        loop = asyncio.get_running_loop()
        done, closed, failure = await loop.run_in_executor(
            self._writer, self._write_batch, pairs, custody)
        if done or closed:
            async with self.db.session() as session, session.begin():
                ids = await save_captures(session, done, self.job_id, self.actor)
                await close_files(session, closed)
            self.stats.inc_value("trawler/evidence/captures", len(done))
            for capture_id, capture in zip(ids, done, strict=True):
                if capture.item.truncated:
                    self.stats.inc_value("trawler/evidence/truncated")
                if capture.reason == DRUGS_VERDICT and is_html(capture.item.content_type,
                                                               capture.item.body):
                    self._screenshot(capture_id, capture)
        if failure:
            self._stop(failure)
        return [None] * len(pairs)

    def _stop(self, message: str) -> None:
        if self._stopped:
            return
        self._stopped = message
        logger.error("evidence could not be written, the crawl stops: %s. Every record written "
                     "before is intact; free space in %s, then resume the job.",
                     message, self.warc_dir)
        self.stats.set_value("trawler/evidence/error", message)
        self._stopping = asyncio.ensure_future(
            self.crawler.engine.close_spider_async(reason=STORAGE_FULL))

    # --- screenshots ---------------------------------------------------------------------------

    def _screenshot(self, capture_id: int, capture: CaptureDone) -> None:
        if self.screenshots is None or self._stopped:
            return
        item, appended = capture.item, capture.appended
        job = ScreenshotJob(url=item.url, warc_path=self.warc_dir / appended.name,
                            offset=appended.offset, length=appended.length,
                            proxy=self.proxies.get(item.route))
        future = self.screenshots.submit(job)
        task = asyncio.ensure_future(self._keep_screenshot(
            capture_id, item, capture.records.response_id, future))
        assert item.page_id is not None
        self._pending[task] = (capture_id, item.page_id)
        task.add_done_callback(lambda t: self._pending.pop(t, None))

    def _write_screenshot(self, item: PageItem, png: bytes, response_id: str,
                          taken_at: datetime) -> tuple[str, Any, ClosedFile | None]:
        assert self.files is not None
        record_id, appended = self.files.append_screenshot(item.route, item.url, png,
                                                           response_id, taken_at)
        return record_id, appended, self.files.rotate_if_full(item.route)

    async def _keep_screenshot(self, capture_id: int, item: PageItem, response_id: str,
                               future: Future[ScreenshotResult]) -> None:
        try:
            await self._store_screenshot(capture_id, item, response_id,
                                         await asyncio.wrap_future(future))
        except Exception:  # a background task: say what went wrong rather than lose it
            logger.exception("screenshot of %s could not be recorded", item.url)

    async def _store_screenshot(self, capture_id: int, item: PageItem, response_id: str,
                                result: ScreenshotResult) -> None:
        assert self.db is not None and item.page_id is not None
        error = result.error
        written = None
        if result.png is not None and not self._stopped:
            try:
                written = await asyncio.get_running_loop().run_in_executor(
                    self._writer, self._write_screenshot, item, result.png, response_id,
                    result.taken_at)
            except OSError as exc:
                error = f"not stored: {exc}"
                self._stop(str(exc))
        async with self.db.session() as session, session.begin():
            if written is not None:
                record_id, appended, closed = written
                await save_screenshot(
                    session, capture_id, item.page_id, self.actor, attempts=result.attempts,
                    appended=appended, record_id=record_id, job_id=self.job_id,
                    png_sha256=hashlib.sha256(result.png or b"").hexdigest())
                await close_files(session, [closed] if closed else [])
                self.stats.inc_value("trawler/evidence/screenshots")
            else:
                await save_screenshot(session, capture_id, item.page_id, self.actor,
                                      attempts=result.attempts, error=error or "not taken")
                self.stats.inc_value("trawler/evidence/screenshots_failed")
                logger.warning("screenshot of %s failed: %s", item.url, error)

    async def _settle_screenshots(self) -> None:
        """Wait for screenshots in progress; record the ones the crawl cannot wait for."""
        if not self._pending:
            return
        pending = dict(self._pending)
        _, late = await asyncio.wait(pending, timeout=self.screenshot_drain_s)
        for task in late:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if late and self.db is not None:
            async with self.db.session() as session, session.begin():
                for task in late:
                    capture_id, page_id = pending[task]
                    await save_screenshot(
                        session, capture_id, page_id, self.actor, attempts=1,
                        error=f"not taken: the crawl closed before Chromium finished "
                              f"(waited {self.screenshot_drain_s:g}s)")

    async def close_spider(self) -> None:
        await self._batcher.drain()
        await self._settle_screenshots()
        if self.screenshots is not None:
            await asyncio.to_thread(self.screenshots.close, 30)
        if self.files is not None:
            closed = await asyncio.get_running_loop().run_in_executor(
                self._writer, self.files.close)
            if closed and self.db is not None:
                async with self.db.session() as session, session.begin():
                    await close_files(session, closed)
        self._writer.shutdown(wait=True)
        self.stats.set_value("trawler/evidence/not_captured_evicted", self.policy.evicted)
        if self.db is not None:
            await self.db.close()
