"""Recurring jobs: re-crawl a seed list, or re-check the approved sites, every so often.

Schedules live in the database. ``trawler scheduler`` (or ``trawler serve``, through
``scheduler_context``) wakes every ``interval`` seconds, notices jobs whose process died, and
starts each due schedule as a new background job, unless its previous job is still going.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from crawler.config import Config
from crawler.jobs import ACTIVE, JobError, check_jobs, job_settings, start_job
from crawler.store import Database, open_database
from crawler.store.models import APPROVED, Job, Page, Schedule, Site, Verdict

log = logging.getLogger(__name__)

KINDS = ("seeds", "approved-sites")
NAMED = {"hourly": 3600, "daily": 86400, "weekly": 7 * 86400}
UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_EVERY = re.compile(r"^(?:every\s+)?(\d+)\s*([mhdw])$")
RECHECK_PAGES_PER_SITE = 5


class ScheduleError(ValueError):
    """A schedule that cannot be added or changed as asked."""


def parse_every(text: str | int) -> int:
    """Seconds between runs for ``hourly``, ``daily``, ``weekly`` or ``<N>m|h|d|w`` (``12h``)."""
    value = str(text).strip().lower()
    if value in NAMED:
        return NAMED[value]
    match = _EVERY.match(value)
    if not match or int(match.group(1)) == 0:
        raise ScheduleError(f"{text!r} is not a schedule: use hourly, daily, weekly or a "
                            "number with m, h, d or w (for example 12h)")
    return int(match.group(1)) * UNITS[match.group(2)]


def describe_every(seconds: int) -> str:
    for name, value in NAMED.items():
        if seconds == value:
            return name
    for unit, size in sorted(UNITS.items(), key=lambda kv: -kv[1]):
        if seconds % size == 0:
            return f"every {seconds // size}{unit}"
    return f"every {seconds}s"


async def add_schedule(db: Database, name: str, every_s: int, *, kind: str = "seeds",
                       seeds: list[dict[str, Any]] | None = None,
                       settings: dict[str, Any] | None = None,
                       created_by: str | None = None,
                       first_run: datetime | None = None) -> Schedule:
    if kind not in KINDS:
        raise ScheduleError(f"kind {kind!r}: use one of {', '.join(KINDS)}")
    if kind == "seeds" and not seeds:
        raise ScheduleError("a seeds schedule needs seeds (URLs or seed files)")
    async with db.session() as session, session.begin():
        if await session.scalar(select(Schedule.id).where(Schedule.name == name)) is not None:
            raise ScheduleError(f"a schedule named {name!r} exists; remove it first or pick "
                                "another name")
        schedule = Schedule(name=name, kind=kind, every_s=every_s, seeds=seeds or [],
                            settings=settings or {}, created_by=created_by,
                            next_run_at=first_run or datetime.now(UTC))
        session.add(schedule)
    return schedule


async def list_schedules(db: Database) -> list[Schedule]:
    async with db.session() as session:
        return list((await session.scalars(select(Schedule).order_by(Schedule.name))).all())


async def remove_schedule(db: Database, name: str) -> None:
    async with db.session() as session, session.begin():
        schedule = await session.scalar(select(Schedule).where(Schedule.name == name))
        if schedule is None:
            raise ScheduleError(f"no schedule named {name!r} (see `trawler scheduler list`)")
        await session.delete(schedule)


def schedule_summary(schedule: Schedule) -> dict[str, Any]:
    return {"name": schedule.name, "kind": schedule.kind, "every": describe_every(
        schedule.every_s), "every_s": schedule.every_s, "seeds": schedule.seeds,
        "enabled": schedule.enabled, "next_run_at": _aware(schedule.next_run_at).isoformat(),
        "last_job": schedule.last_job}


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def approved_site_seeds(db: Database) -> list[dict[str, Any]]:
    """Each approved site's front page and a few of its flagged pages, one link hop deep."""
    async with db.session() as session:
        sites = (await session.scalars(select(Site).where(Site.status == APPROVED)
                                       .order_by(Site.name))).all()
        seeds: dict[str, dict[str, Any]] = {}
        for site in sites:
            seeds[f"http://{site.name}/"] = {"url": f"http://{site.name}/", "depth": 1,
                                             "tags": ["recheck"], "source": "approved sites"}
            flagged = (await session.scalars(
                select(Page.url).join(Verdict, Verdict.page_id == Page.id)
                .where(Page.site_id == site.id, Verdict.label == "drugs")
                .order_by(Verdict.score.desc()).limit(RECHECK_PAGES_PER_SITE))).all()
            for url in flagged:
                seeds.setdefault(url, {"url": url, "depth": 0, "tags": ["recheck"],
                                       "source": "approved sites"})
    return list(seeds.values())


async def run_due(config: Config, now: datetime | None = None,
                  start: Callable[..., Any] = start_job) -> list[str]:
    """Start every due schedule's job; returns the names of the jobs started."""
    now = now or datetime.now(UTC)
    started: list[str] = []
    db = await open_database(config.db_url)
    try:
        await check_jobs(db)
        async with db.session() as session:
            due = (await session.scalars(select(Schedule).where(
                Schedule.enabled.is_(True), Schedule.next_run_at <= now))).all()
            running = set((await session.scalars(
                select(Job.name).where(Job.status.in_(ACTIVE)))).all())
        for schedule in due:
            if _aware(schedule.next_run_at) > now:
                continue
            next_run = _aware(schedule.next_run_at) + timedelta(seconds=schedule.every_s)
            job_name = None
            if schedule.last_job in running:
                log.warning("schedule %s: job %s is still running; skipping this round",
                            schedule.name, schedule.last_job)
            else:
                seeds = (await approved_site_seeds(db) if schedule.kind == "approved-sites"
                         else schedule.seeds)
                if seeds:
                    job_name = f"{schedule.name}-{now:%Y%m%d-%H%M%S}"
                    settings = {**job_settings(config), **(schedule.settings or {})}
                    try:
                        await start(config, job_name, seeds, created_by=f"schedule:{schedule.name}",
                                    settings=settings)
                        started.append(job_name)
                    except JobError as exc:
                        log.error("schedule %s: %s", schedule.name, exc)
                        job_name = None
            async with db.session() as session, session.begin():
                row = await session.get(Schedule, schedule.id)
                if row is not None:
                    row.next_run_at = next_run if next_run > now else \
                        now + timedelta(seconds=schedule.every_s)
                    row.last_job = job_name or row.last_job
    finally:
        await db.close()
    return started


async def scheduler_loop(config: Config, interval: float = 30.0,
                         stop: asyncio.Event | None = None) -> None:
    """Run due schedules until ``stop`` is set; errors are logged and the loop goes on."""
    stop = stop or asyncio.Event()
    while not stop.is_set():
        try:
            for name in await run_due(config):
                log.warning("scheduler: started job %s", name)
        except Exception:
            log.exception("scheduler: this round failed; trying again in %ss", interval)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)


def scheduler_context(config: Config, interval: float = 30.0) -> Callable[[Any],
                                                                        AsyncIterator[None]]:
    """For ``trawler serve``: ``app.cleanup_ctx.append(scheduler_context(config))``."""

    async def context(_app: Any) -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = asyncio.ensure_future(scheduler_loop(config, interval, stop))
        yield
        stop.set()
        await task

    return context
