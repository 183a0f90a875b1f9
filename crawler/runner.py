"""Running a crawl job in this process: Scrapy settings from the configuration, then the crawl."""

from __future__ import annotations

from typing import Any

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from crawler import settings as default_settings
from crawler.config import Config
from crawler.spiders.trawler import TrawlerSpider


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
    }, priority="cmdline")
    if overrides:
        settings.setdict(overrides, priority="cmdline")
    return settings


def run_crawl(config: Config, seeds: list[dict[str, Any]], job_id: int | None = None,
              overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Crawl until done (blocking; the reactor runs once per process). Returns Scrapy's stats."""
    process = CrawlerProcess(crawl_settings(config, job_id, overrides), install_root_handler=True)
    crawler = process.create_crawler(TrawlerSpider)
    process.crawl(crawler, seeds=seeds, max_pages=config.crawl.max_pages,
                  depth=config.crawl.depth)
    process.start()
    stats = crawler.stats.get_stats() if crawler.stats else {}
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in stats.items()}
