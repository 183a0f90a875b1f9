"""Job heartbeat: every few seconds, write the job's live numbers to its row and obey the operator.

``jobs show``, the web Jobs page and the stale-job check read what this writes; a ``control``
of "pause" or "stop" set on the row closes the spider after its in-flight pages.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter, deque
from datetime import UTC, datetime
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from crawler.jobs import HEARTBEAT_S, job_progress
from crawler.store import Database, open_database
from crawler.store.models import Job


def run_numbers(stats: dict[str, Any]) -> dict[str, Any]:
    """This run's counts from Scrapy's stats: pages stored and errors by kind."""
    return {
        "pages": int(stats.get("trawler/pages", 0)),
        "errors": {k.split("/", 2)[2]: int(v) for k, v in stats.items()
                   if k.startswith("trawler/errors/")},
        "onion_skipped": int(stats.get("trawler/onion_skipped", 0)),
    }


def in_flight(crawler: Crawler) -> int:
    """Requests being downloaded now (0 before the engine starts)."""
    try:
        engine = crawler.engine
    except RuntimeError:  # the crawl has not started
        return 0
    return len(engine.downloader.active) if engine and engine.downloader else 0


class JobHeartbeat:
    def __init__(self, crawler: Crawler, db_url: str, job_id: int, interval: float) -> None:
        self.crawler = crawler
        self.db_url = db_url
        self.job_id = job_id
        self.interval = interval
        self.db: Database | None = None
        self.base_errors: Counter[str] = Counter()
        self.base_elapsed = 0.0
        self.started = time.monotonic()
        self.window: deque[tuple[float, int]] = deque(maxlen=16)
        self.snapshot: dict[str, Any] = {}
        self._task: asyncio.Task[None] | None = None
        self._closing: asyncio.Future[None] | None = None
        self.closing_reason: str | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> JobHeartbeat:
        job_id = crawler.settings.getint("TRAWLER_JOB_ID")
        if not job_id:
            raise NotConfigured("not running as a job")
        crawler.stats.set_value("trawler/stall_timeout",
                                crawler.settings.getint("CLOSESPIDER_TIMEOUT_NO_ITEM"))
        ext = cls(crawler, crawler.settings["TRAWLER_DB_URL"], job_id,
                  crawler.settings.getfloat("TRAWLER_HEARTBEAT", HEARTBEAT_S))
        crawler.signals.connect(ext.spider_opened, signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signals.spider_closed)
        return ext

    async def spider_opened(self) -> None:
        self.db = await open_database(self.db_url)
        async with self.db.session() as session:
            job = await session.get(Job, self.job_id)
            earlier = dict(job.stats or {}) if job else {}
        # Errors and time of the job's earlier runs (before a pause or a kill) carry over.
        self.base_errors = Counter(earlier.get("errors") or {})
        self.base_elapsed = float(earlier.get("elapsed_s") or 0.0)
        self.started = time.monotonic()
        self._task = asyncio.ensure_future(self._beat_forever())

    async def _beat_forever(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.beat()
            except Exception:  # a busy database must not end the crawl; the next beat retries
                self.crawler.spider.logger.warning("heartbeat failed", exc_info=True)

    def numbers(self, progress: dict[str, Any]) -> dict[str, Any]:
        """The job's stats: lifetime totals from the database plus this run's rates."""
        now = time.monotonic()
        run = run_numbers(self.crawler.stats.get_stats())
        self.window.append((now, run["pages"]))
        first_t, first_pages = self.window[0]
        rate = (run["pages"] - first_pages) / (now - first_t) if now > first_t else 0.0
        errors = self.base_errors + Counter(run["errors"])
        return {**progress, "pages_per_s": round(rate, 2), "in_flight": in_flight(self.crawler),
                "errors": dict(sorted(errors.items())), "onion_skipped": run["onion_skipped"],
                "pages_this_run": run["pages"],
                "elapsed_s": round(self.base_elapsed + now - self.started, 1)}

    async def beat(self, obey: bool = True) -> None:
        assert self.db is not None
        progress = await job_progress(self.db, self.job_id)
        self.snapshot = self.numbers(progress)
        self.crawler.stats.set_value("trawler/progress", self.snapshot)
        reason = None
        async with self.db.session() as session, session.begin():
            job = await session.get(Job, self.job_id)
            if job is None:
                return
            if obey and job.control in ("pause", "stop") and self.crawler.engine is not None:
                reason = "paused" if job.control == "pause" else "stopped"
            if obey and (self.closing_reason or reason):
                # Seen by operators (and tests): the job is finishing its in-flight pages.
                self.snapshot["closing"] = self.closing_reason or reason
            job.stats = self.snapshot
            job.heartbeat_at = datetime.now(UTC)
        if reason and self.closing_reason is None:
            self.closing_reason = reason
            self._closing = asyncio.ensure_future(
                self.crawler.engine.close_spider_async(reason=reason))

    async def spider_closed(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.db is not None:
            await self.beat(obey=False)
            await self.db.close()
            self.db = None
