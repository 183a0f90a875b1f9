"""``trawler jobs`` (list, show, pause, resume, stop) and ``trawler scheduler`` (recurring jobs)."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.live import Live
from rich.table import Table

from crawler.cli import TrawlerError, async_command, cli, get_config, global_options
from crawler.cli.crawl import report_run
from crawler.config import Config
from crawler.jobs import (
    ACTIVE,
    JobError,
    check_jobs,
    get_job,
    job_summary,
    list_jobs,
    pause_job,
    resume_job,
    stop_job,
)
from crawler.progress import progress_table
from crawler.runner import run_job
from crawler.scheduler import (
    ScheduleError,
    add_schedule,
    list_schedules,
    parse_every,
    remove_schedule,
    schedule_summary,
    scheduler_loop,
)
from crawler.seeds import SeedError, load_seeds
from crawler.store import Database, open_database

T = TypeVar("T")
WATCH_S = 1.0


async def _with_db(work: Callable[[Database], Awaitable[T]]) -> T:
    db = await open_database(get_config().db_url)
    try:
        return await work(db)
    except (JobError, ScheduleError) as exc:
        raise TrawlerError(str(exc)) from exc
    finally:
        await db.close()


@cli.group()
@global_options
def jobs() -> None:
    """Crawl jobs: list them, watch one, pause, resume (also after a crash) or stop it."""


@jobs.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@global_options
@async_command
async def list_command(as_json: bool) -> None:
    """Jobs, newest first, with their state and progress."""
    summaries = [job_summary(job) for job in await _with_db(list_jobs)]
    if as_json:
        click.echo(json.dumps(summaries, ensure_ascii=False, indent=2))
        return
    if not summaries:
        click.echo("no jobs yet: start one with `trawler crawl SEEDS --job NAME`")
        return
    table = Table(title=f"jobs ({len(summaries)})", title_justify="left")
    for column in ("name", "status", "pages", "queued", "sites", "flagged", "errors",
                   "started", "note"):
        table.add_column(column, justify="right" if column in
                         ("pages", "queued", "sites", "flagged", "errors") else "left")
    for job in summaries:
        stats = job["stats"]
        table.add_row(job["name"], job["status"], str(stats["pages_fetched"]),
                      str(stats["pages_queued"]), str(stats["sites_found"]),
                      str(stats["sites_flagged"]), str(sum(stats["errors"].values())),
                      (job["started_at"] or "")[:19], job["error"] or "")
    Console(width=160).print(table)


def _show(job: dict[str, Any]) -> Table:
    table = progress_table(job["name"], job["status"], job["stats"])
    for label, key in (("started", "started_at"), ("finished", "finished_at"),
                       ("heartbeat", "heartbeat_at")):
        if job[key]:
            table.add_row(label, job[key][:19])
    if job["error"]:
        table.add_row("note", job["error"])
    return table


@jobs.command()
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the job as JSON.")
@click.option("--watch", is_flag=True, help="Keep the numbers updating until the job ends.")
@global_options
@async_command
async def show(name: str, as_json: bool, watch: bool) -> None:
    """One job: seeds, state, pages fetched and queued, sites found and flagged, errors."""

    async def summary(db: Database) -> dict[str, Any]:
        await check_jobs(db)
        return job_summary(await get_job(db, name))

    job = await _with_db(summary)
    if as_json:
        click.echo(json.dumps(job, ensure_ascii=False, indent=2))
        return
    console = Console(stderr=False)
    if not watch:
        console.print(_show(job))
        return
    with Live(_show(job), console=console, auto_refresh=False) as live:
        while job["status"] in ACTIVE:
            await asyncio.sleep(WATCH_S)
            job = await _with_db(summary)
            live.update(_show(job), refresh=True)


async def _act(action: Callable[[Config, str], Awaitable[Any]], name: str) -> None:
    try:
        await action(get_config(), name)
    except JobError as exc:
        raise TrawlerError(str(exc)) from exc


@jobs.command()
@click.argument("name")
@global_options
@async_command
async def pause(name: str) -> None:
    """Pause a job: pages in flight finish, the rest wait in its frontier for a resume."""
    await _act(pause_job, name)
    click.echo(f"job {name}: pausing (see `trawler jobs show {name}`)")


@jobs.command()
@click.argument("name")
@global_options
@async_command
async def stop(name: str) -> None:
    """Stop a job for good; what it fetched stays."""
    await _act(stop_job, name)
    click.echo(f"job {name}: stopping")


@jobs.command()
@click.argument("name")
@click.option("--detach", is_flag=True, help="Continue it in the background and return.")
@click.option("--quiet", "-q", is_flag=True, help="No live progress display.")
@global_options
def resume(name: str, detach: bool, quiet: bool) -> None:
    """Continue a paused, failed or killed job where it stopped: no page lost, none twice."""
    config = get_config()
    if detach:
        try:
            asyncio.run(resume_job(config, name))
        except JobError as exc:
            raise TrawlerError(str(exc)) from exc
        click.echo(f"job {name}: resumed in the background; `trawler jobs show {name} --watch`")
        return
    _run(config, name, live=not quiet and sys.stderr.isatty())


@jobs.command(hidden=True)
@click.argument("name")
@global_options
def run(name: str) -> None:
    """Run job NAME in this process (what background jobs execute)."""
    _run(get_config(), name, live=False)


def _run(config: Config, name: str, live: bool) -> None:
    try:
        result = run_job(config, name, live=live)
    except JobError as exc:
        raise TrawlerError(str(exc)) from exc
    report_run(result)


@cli.group(invoke_without_command=True)
@click.option("--interval", type=click.FloatRange(min=1), default=30.0, show_default=True,
              help="Seconds between checks for due schedules.")
@click.option("--once", is_flag=True, help="Start what is due now, then exit.")
@global_options
@click.pass_context
def scheduler(ctx: click.Context, interval: float, once: bool) -> None:
    """Recurring jobs. Without a subcommand: run due schedules until interrupted.

    `trawler serve` runs the same scheduler beside the web app.
    """
    if ctx.invoked_subcommand is not None:
        return
    config = get_config()
    if once:
        from crawler.scheduler import run_due

        for job_name in asyncio.run(run_due(config)):
            click.echo(f"started job {job_name}")
        return
    click.echo(f"scheduler: checking every {interval:g}s; Ctrl-C to end", err=True)
    asyncio.run(scheduler_loop(config, interval))


@scheduler.command("add")
@click.argument("name")
@click.argument("seeds", nargs=-1)
@click.option("--every", metavar="WHEN", help="hourly, daily, weekly or N m|h|d|w "
              "(default: the seed file's schedule).")
@click.option("--approved-sites", is_flag=True,
              help="Re-check the approved sites (front page and flagged pages) instead of seeds.")
@click.option("--max-pages", type=click.IntRange(min=1), help="Page limit of each job.")
@click.option("--depth", type=click.IntRange(min=0), help="Link hops of each job.")
@click.option("--forum", is_flag=True, help="Run the forum spider.")
@global_options
@async_command
async def add(name: str, seeds: tuple[str, ...], every: str | None, approved_sites: bool,
              max_pages: int | None, depth: int | None, forum: bool) -> None:
    """Add schedule NAME: re-crawl SEEDS (URLs or seed files) or re-check approved sites."""
    seed_list: list[dict[str, Any]] = []
    try:
        if seeds:
            loaded = load_seeds(list(seeds))
            seed_list = [s.to_dict() for s in loaded]
            every = every or next((s.schedule for s in loaded if s.schedule), None)
        if not every:
            raise TrawlerError("say how often with --every (daily, weekly, 12h, ...) or put "
                               "'schedule:' in the seed file")
        every_s = parse_every(every)
    except (SeedError, ScheduleError) as exc:
        raise TrawlerError(str(exc)) from exc
    if approved_sites == bool(seeds):
        raise TrawlerError("give either SEEDS or --approved-sites")
    settings = {k: v for k, v in (("max_pages", max_pages), ("depth", depth)) if v is not None}
    if forum:
        settings["spider"] = "forum"
    await _with_db(lambda db: add_schedule(
        db, name, every_s, kind="approved-sites" if approved_sites else "seeds",
        seeds=seed_list, settings=settings, created_by="cli"))
    click.echo(f"schedule {name}: every {every}, first run at the next scheduler check")


@scheduler.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@global_options
@async_command
async def list_schedules_command(as_json: bool) -> None:
    """Schedules with their period, next run and last job."""
    rows = [schedule_summary(s) for s in await _with_db(list_schedules)]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("no schedules: add one with `trawler scheduler add NAME SEEDS --every daily`")
        return
    table = Table(title=f"schedules ({len(rows)})", title_justify="left")
    for column in ("name", "kind", "every", "seeds", "next run", "last job"):
        table.add_column(column)
    now = datetime.now(UTC).isoformat()
    for row in rows:
        due = "due" if row["next_run_at"] <= now else row["next_run_at"][:19]
        table.add_row(row["name"], row["kind"], row["every"], str(len(row["seeds"])), due,
                      row["last_job"] or "")
    Console(width=140).print(table)


@scheduler.command("remove")
@click.argument("name")
@global_options
@async_command
async def remove(name: str) -> None:
    """Remove schedule NAME (its jobs stay)."""
    await _with_db(lambda db: remove_schedule(db, name))
    click.echo(f"schedule {name}: removed")

