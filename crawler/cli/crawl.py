"""``trawler crawl``: run one crawl job in this process and report what it flagged."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import click

from crawler.cli import TrawlerError, cli, get_config, global_options
from crawler.cli.sites import load_site_rows, print_sites_table
from crawler.config import Config
from crawler.jobs import JobError, create_job, default_job_name, set_job_state
from crawler.runner import run_crawl
from crawler.seeds import SeedError, load_seeds
from crawler.store import open_database


async def _job_state(config: Config, job_id: int, status: str, **kwargs: Any) -> None:
    db = await open_database(config.db_url)
    try:
        await set_job_state(db, job_id, status, **kwargs)
    finally:
        await db.close()


async def _new_job(config: Config, name: str, seeds: list[dict[str, Any]]) -> int:
    db = await open_database(config.db_url)
    try:
        job = await create_job(db, name, seeds, {
            "max_pages": config.crawl.max_pages, "depth": config.crawl.depth,
            "proxy": config.crawl.proxy, "tor": config.crawl.tor})
        return job.id
    finally:
        await db.close()


def summarize(stats: dict[str, Any], elapsed: float) -> dict[str, Any]:
    pages = int(stats.get("trawler/pages", 0))
    return {
        "pages": pages,
        "flagged_pages": int(stats.get("trawler/flagged_pages", 0)),
        "errors": {k.split("/", 2)[2]: v for k, v in stats.items()
                   if k.startswith("trawler/errors/")},
        "elapsed_s": round(elapsed, 2),
        "pages_per_s": round(pages / elapsed, 1) if elapsed > 0 else None,
        "finish_reason": stats.get("finish_reason"),
    }


@cli.command()
@click.argument("seeds", nargs=-1, required=True)
@click.option("--job", "job_name", metavar="NAME", help="Job name (default: crawl-<UTC time>).")
@click.option("--max-pages", type=click.IntRange(min=1), help="Stop after this many pages.")
@click.option("--depth", type=click.IntRange(min=0), help="Link hops to follow from a seed.")
@click.option("--proxy", metavar="URL", help="HTTP proxy for clear-web hosts "
              "(overrides http_proxy/https_proxy).")
@click.option("--tor", metavar="URL", help="Tor SOCKS5h proxy for .onion hosts "
              "(default socks5h://127.0.0.1:9050).")
@click.option("--allow-private", is_flag=True, default=None,
              help="Let seeds and links reach private and loopback addresses.")
@click.option("--quiet", "-q", is_flag=True, help="Do not print the flagged sites at the end.")
@global_options
def crawl(seeds: tuple[str, ...], job_name: str | None, max_pages: int | None,
          depth: int | None, proxy: str | None, tor: str | None, allow_private: bool | None,
          quiet: bool) -> None:
    """Crawl SEEDS (URLs or seed files such as configs/seeds/demo.yaml) and classify every page."""
    try:
        seed_list = [s.to_dict() for s in load_seeds(list(seeds))]
    except SeedError as exc:
        raise TrawlerError(str(exc)) from exc
    config = get_config().with_crawl(max_pages=max_pages, depth=depth, proxy=proxy, tor=tor,
                                     allow_private=allow_private)
    if not config.model_path.exists():
        raise TrawlerError(f"no model at {config.model_path}: run `trawler train` or set "
                           "TRAWLER_MODEL")
    name = job_name or default_job_name()
    try:
        job_id = asyncio.run(_new_job(config, name, seed_list))
    except JobError as exc:
        raise TrawlerError(str(exc)) from exc
    asyncio.run(_job_state(config, job_id, "running", pid=os.getpid()))
    click.echo(f"job {name}: crawling {len(seed_list)} seed(s), up to "
               f"{config.crawl.max_pages} pages, depth {config.crawl.depth}", err=True)
    started = time.monotonic()
    try:
        stats = run_crawl(config, seed_list, job_id)
    except BaseException as exc:
        asyncio.run(_job_state(config, job_id, "failed", error=f"{type(exc).__name__}: {exc}"))
        raise
    summary = summarize(stats, time.monotonic() - started)
    asyncio.run(_job_state(config, job_id, "finished", stats=summary))
    errors = ", ".join(f"{k} {v}" for k, v in sorted(summary["errors"].items())) or "none"
    click.echo(f"job {name}: {summary['pages']} pages in {summary['elapsed_s']}s "
               f"({summary['pages_per_s']} pages/s), {summary['flagged_pages']} flagged pages, "
               f"errors: {errors}", err=True)
    if not quiet:
        rows = asyncio.run(load_site_rows(True))
        if rows:
            print_sites_table(rows, f"flagged sites ({len(rows)})")
        else:
            click.echo("no site was flagged")
