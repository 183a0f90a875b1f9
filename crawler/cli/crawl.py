"""``trawler crawl``: run one crawl job (in this process, or in the background with --detach)."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import click

from crawler.cli import TrawlerError, cli, get_config, global_options
from crawler.cli.sites import load_site_rows, print_sites_table
from crawler.config import Config
from crawler.jobs import (
    JobError,
    create_job,
    default_job_name,
    job_settings,
    resume_job,
)
from crawler.runner import JobRun, run_job
from crawler.seeds import SeedError, load_seeds, seeds_tor
from crawler.store import open_database


async def _new_job(config: Config, name: str, seeds: list[dict[str, Any]], spider: str) -> int:
    db = await open_database(config.db_url)
    try:
        job = await create_job(db, name, seeds, job_settings(config, spider),
                               created_by="cli")
        return job.id
    finally:
        await db.close()


def report_run(run: JobRun) -> None:
    """One line on how a job run ended; failures exit with the reason."""
    stats = run.stats
    errors = ", ".join(f"{k} {v}" for k, v in sorted((stats.get("errors") or {}).items()))
    click.echo(f"job {run.name}: {run.status}; {stats.get('pages_fetched', 0)} pages fetched, "
               f"{stats.get('pages_queued', 0)} queued, {stats.get('sites_found', 0)} sites "
               f"({stats.get('sites_flagged', 0)} flagged), {stats.get('flagged_pages', 0)} "
               f"flagged pages, errors: {errors or 'none'}", err=True)
    if stats.get("onion_skipped"):
        click.echo(f"job {run.name}: Tor was down, {stats['onion_skipped']} onion links were "
                   "not followed", err=True)
    if run.status == "paused":
        click.echo(f"job {run.name}: paused; continue with `trawler jobs resume {run.name}`",
                   err=True)
    if run.status == "failed":
        raise TrawlerError(f"job {run.name} failed: {run.error}")


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
@click.option("--forum", is_flag=True,
              help="Forum spider: walk forums board → thread → pages and judge each post.")
@click.option("--detach", is_flag=True,
              help="Run the job in the background; watch it with `trawler jobs show NAME`.")
@click.option("--quiet", "-q", is_flag=True,
              help="No live progress, and do not print the flagged sites at the end.")
@global_options
def crawl(seeds: tuple[str, ...], job_name: str | None, max_pages: int | None,
          depth: int | None, proxy: str | None, tor: str | None, allow_private: bool | None,
          forum: bool, detach: bool, quiet: bool) -> None:
    """Crawl SEEDS (URLs or seed files such as configs/seeds/demo.yaml) and classify every page.

    Ctrl-C pauses the job (pages in flight are finished first); `trawler jobs resume NAME`
    continues it, as it does after a crash or a reboot.
    """
    try:
        seed_objects = load_seeds(list(seeds))
        tor = tor or seeds_tor(seed_objects)
    except SeedError as exc:
        raise TrawlerError(str(exc)) from exc
    seed_list = [s.to_dict() for s in seed_objects]
    config = get_config().with_crawl(max_pages=max_pages, depth=depth, proxy=proxy, tor=tor,
                                     allow_private=allow_private)
    if not config.model_path.exists():
        raise TrawlerError(f"no model at {config.model_path}: run `trawler train` or set "
                           "TRAWLER_MODEL")
    name = job_name or default_job_name()
    try:
        asyncio.run(_new_job(config, name, seed_list, "forum" if forum else "trawler"))
    except JobError as exc:
        raise TrawlerError(str(exc)) from exc
    click.echo(f"job {name}: crawling {len(seed_list)} seed(s), up to "
               f"{config.crawl.max_pages} pages, depth {config.crawl.depth}", err=True)
    if detach:
        job = asyncio.run(resume_job(config, name))
        click.echo(f"job {name}: running in the background (pid {job.pid}); "
                   f"`trawler jobs show {name} --watch` to watch it", err=True)
        return
    try:
        run = run_job(config, name, live=not quiet and sys.stderr.isatty())
    except JobError as exc:
        raise TrawlerError(str(exc)) from exc
    report_run(run)
    if not quiet:
        rows = asyncio.run(load_site_rows(True))
        if rows:
            print_sites_table(rows, f"flagged sites ({len(rows)})")
        else:
            click.echo("no site was flagged")
