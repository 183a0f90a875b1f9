"""Running a crawl job in this process: Scrapy settings from the configuration, then the crawl.

``run_job`` is the whole life of one run of a job: claim it, check Tor when it has onion seeds,
crawl (resuming its frontier), and record how it ended.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from typing import Any

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from crawler import settings as default_settings
from crawler.config import Config, worker_count
from crawler.extract import is_onion
from crawler.frontier import frontier_counts
from crawler.jobs import JobError, claimable_job, job_config, set_job_state
from crawler.spiders.forum import ForumSpider
from crawler.spiders.trawler import TrawlerSpider
from crawler.store import open_database
from crawler.store.models import Job
from crawler.tor import check_tor

SPIDERS = {"trawler": TrawlerSpider, "forum": ForumSpider}
LIVE_PROGRESS = {"crawler.progress.LiveProgress": 510}  # the rich display, for a terminal

# How a crawl's finish reason ends its job: (status, what the operator should know).
ENDINGS: dict[str, tuple[str, str | None]] = {
    "finished": ("finished", None),
    "paused": ("paused", None),
    "shutdown": ("paused", None),  # Ctrl-C or SIGTERM: keep the frontier for a resume
    "stopped": ("stopped", None),
    "tor-down": ("failed", "the Tor proxy {tor} stopped answering, so onion pages were left "
                 "unfetched (not recorded as dead); start Tor, then `trawler jobs resume {name}`"),
    "evidence-storage-full": (
        "failed", "the disk holding the evidence is full; every record written so far is "
                  "intact: free space, then `trawler jobs resume {name}`"),
    "closespider_timeout_no_item": (
        "failed", "stalled: no page finished in {stall}s although work was pending; "
                  "check the network or proxy, then `trawler jobs resume {name}`"),
}


def crawl_settings(config: Config, job_id: int | None = None,
                   overrides: dict[str, Any] | None = None) -> Settings:
    crawl = config.crawl
    settings = Settings()
    settings.setmodule(default_settings, priority="project")
    settings.setdict({
        "CONCURRENT_REQUESTS": crawl.concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": crawl.per_site_concurrency,
        "DOWNLOAD_DELAY": crawl.delay,
        "DOWNLOAD_TIMEOUT": crawl.timeout,
        "USER_AGENT": crawl.user_agent,
        "TRAWLER_MAX_PAGE_BYTES": crawl.max_page_bytes,
        "TRAWLER_ALLOW_PRIVATE": crawl.allow_private,
        "TRAWLER_PROXY": crawl.proxy,
        "TRAWLER_TOR": crawl.tor,
        "TRAWLER_DB_URL": config.db_url,
        "TRAWLER_JOB_ID": job_id,
        "TRAWLER_MODEL_PATH": str(config.model_path),
        "TRAWLER_DATA_DIR": str(config.data_dir),
        "TRAWLER_ANALYSIS_WORKERS": worker_count(crawl.analysis_workers),
        "TRAWLER_ANALYSIS_TIMEOUT": float(crawl.analysis_timeout),
    }, priority="cmdline")
    # A config file's [scrapy] section passes Scrapy settings through (TRAWLER_SCREENSHOTS, ...).
    settings.setdict(dict(config.extra.get("scrapy") or {}), priority="cmdline")
    if overrides:
        settings.setdict(overrides, priority="cmdline")
    return settings


def run_crawl(config: Config, seeds: list[dict[str, Any]], job_id: int | None = None,
              overrides: dict[str, Any] | None = None,
              spider: str = "trawler") -> dict[str, Any]:
    """Crawl until done (blocking; the reactor runs once per process). Returns Scrapy's stats."""
    process = CrawlerProcess(crawl_settings(config, job_id, overrides))
    crawler = process.create_crawler(SPIDERS[spider])
    process.crawl(crawler, seeds=seeds, max_pages=config.crawl.max_pages,
                  depth=config.crawl.depth)
    # Scrapy's handler filters by LOG_LEVEL but leaves its own loggers and the root logger open
    # to DEBUG (starting the crawl reopens the root), so Scrapy and every library would build
    # (and the handler drop) records per request: close them at that level.
    level = process.settings.get("LOG_LEVEL")
    logging.getLogger().setLevel(level)
    logging.getLogger("scrapy").setLevel(level)
    process.start()
    try:
        stats = crawler.stats.get_stats()
    except RuntimeError:  # the crawl never started (its spider or a component failed to load)
        stats = {}
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in stats.items()}


@dataclass
class JobRun:
    """How one run of a job ended."""

    name: str
    status: str
    error: str | None
    stats: dict[str, Any]


async def _claim(config: Config, name: str) -> Job:
    db = await open_database(config.db_url)
    try:
        job = await claimable_job(db, name, pid=os.getpid())
        if job.control in ("pause", "stop"):  # asked before the process got going
            await set_job_state(db, job.id, "paused" if job.control == "pause" else "stopped")
            raise JobError(f"job {name!r} was asked to {job.control} before it started")
        await set_job_state(db, job.id, "running", pid=os.getpid())
        return job
    finally:
        await db.close()


async def _end(config: Config, job: Job, status: str, error: str | None) -> JobRun:
    db = await open_database(config.db_url)
    try:
        async with db.session() as session:
            row = await session.get(Job, job.id)
            control = row.control if row else None
            _, left = await frontier_counts(session, job.id)
        if status == "finished" and left:
            status, error = "failed", (
                f"{left} URL(s) were fetched but their pages could not be stored (see the "
                f"errors logged); `trawler jobs resume {job.name}` tries them again")
        if control == "stop":
            status, error = "stopped", None
        elif control == "pause" and status != "finished":
            status, error = "paused", None
        await set_job_state(db, job.id, status, error=error)
        async with db.session() as session:
            row = await session.get(Job, job.id)
        return JobRun(job.name, status, error, dict(row.stats or {}) if row else {})
    finally:
        await db.close()


def onion_seeds(seeds: list[dict[str, Any]]) -> list[str]:
    return [seed["url"] for seed in seeds if is_onion(seed["url"])]


def run_job(config: Config, name: str, *, live: bool = False,
            overrides: dict[str, Any] | None = None) -> JobRun:
    """Run (or resume) job ``name`` in this process until it finishes, pauses, stops or fails."""
    job = asyncio.run(_claim(config, name))
    config = job_config(config, job)
    onions = onion_seeds(job.seeds or [])
    health = asyncio.run(check_tor(config.crawl.tor, onions))
    if not health.ok and onions:
        return asyncio.run(_end(config, job, "failed", health.message))
    # Without onion seeds a crawl goes on when Tor is down, leaving onion links alone.
    settings: dict[str, Any] = {"TRAWLER_TOR_DOWN": not health.ok, "TRAWLER_JOB_NAME": name}
    if live:
        settings["EXTENSIONS"] = {**default_settings.EXTENSIONS, **LIVE_PROGRESS}
    settings.update(overrides or {})
    try:
        stats = run_crawl(config, job.seeds or [], job.id, settings,
                          spider=(job.settings or {}).get("spider", "trawler"))
    except BaseException as exc:
        asyncio.run(_end(config, job, "failed", f"{type(exc).__name__}: {exc}"))
        raise
    reason = stats.get("finish_reason")
    if reason is None:  # Scrapy logged why (a component failed to load, ...)
        status, message = "failed", ("the crawl could not start; see the error above or in "
                                     f"{config.jobs_dir / name / 'job.log'}")
    else:
        status, message = ENDINGS.get(reason, ("failed", f"the crawl ended early ({reason})"))
    if message:
        message = message.format(tor=config.crawl.tor, name=name,
                                 stall=stats.get("trawler/stall_timeout", "?"))
    return asyncio.run(_end(config, job, status, message))
