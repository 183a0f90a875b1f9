"""Jobs: one crawl run each, recorded in the database with its seeds, settings, state and stats.

A job runs in its own process (``trawler crawl`` in the foreground, or ``start_job`` /
``resume_job`` in the background). Operators pause and stop it through the database: the
process reads ``control`` on each heartbeat and finishes its in-flight pages first. A job whose
process died (``kill -9``, reboot) or froze is found by ``check_jobs`` and resumes from its
frontier.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from crawler.config import PROJECT_ROOT, Config
from crawler.frontier import frontier_counts
from crawler.store import Database, open_database
from crawler.store.models import Job, Page, Site, Verdict

ACTIVE = ("queued", "running")
RESUMABLE = ("queued", "paused", "failed")
HEARTBEAT_S = 2.0
# A running job whose heartbeat is older than this has a dead or frozen process.
STALE_AFTER = timedelta(seconds=120)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class JobError(ValueError):
    """A job operation that cannot be done as asked (unknown name, wrong state)."""


def default_job_name() -> str:
    return "crawl-" + datetime.now(UTC).strftime("%Y%m%d-%H%M%S")


async def create_job(db: Database, name: str, seeds: list[dict[str, Any]],
                     settings: dict[str, Any], created_by: str | None = None) -> Job:
    if not _NAME.match(name):
        raise JobError(f"job name {name!r}: use letters, digits, '.', '_' and '-' "
                       "(up to 100, starting with a letter or digit)")
    async with db.session() as session, session.begin():
        if await session.scalar(select(Job.id).where(Job.name == name)) is not None:
            raise JobError(f"a job named {name!r} already exists; choose another --job name, "
                           f"or continue it with `trawler jobs resume {name}`")
        job = Job(name=name, seeds=seeds, settings=settings, status="queued",
                  created_by=created_by, stats={})
        session.add(job)
    return job


async def set_job_state(db: Database, job_id: int, status: str, *,
                        stats: dict[str, Any] | None = None, error: str | None = None,
                        pid: int | None = None) -> None:
    async with db.session() as session, session.begin():
        job = await session.get(Job, job_id)
        if job is None:
            raise JobError(f"job {job_id} does not exist")
        now = datetime.now(UTC)
        job.status = status
        if status == "running":
            job.started_at = job.started_at or now
            job.finished_at = None
            job.pid, job.host = pid, socket.gethostname()
            job.control = None
            job.error = None
        if status in ("paused", "finished", "failed", "stopped"):
            job.pid = None
            job.control = None
        if status in ("finished", "failed", "stopped"):
            job.finished_at = now
        if stats is not None:
            job.stats = stats
        if error is not None:
            job.error = error
        job.heartbeat_at = now


async def get_job(db: Database, name: str) -> Job:
    async with db.session() as session:
        job = await session.scalar(select(Job).where(Job.name == name))
    if job is None:
        raise JobError(f"no job named {name!r} (see `trawler jobs list`)")
    return job


async def list_jobs(db: Database) -> list[Job]:
    """Every job, newest first, with dead processes already noticed (see ``check_jobs``)."""
    await check_jobs(db)
    async with db.session() as session:
        return list((await session.scalars(select(Job).order_by(Job.id.desc()))).all())


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


def job_summary(job: Job) -> dict[str, Any]:
    """The JSON shape of a job, shared by ``trawler jobs show --json`` and ``/jobs.json``."""
    stats = dict(job.stats or {})
    return {
        "id": job.id,
        "name": job.name,
        "status": job.status,
        "seeds": job.seeds,
        "settings": job.settings,
        "stats": {
            "pages_fetched": stats.get("pages_fetched", 0),
            "pages_queued": stats.get("pages_queued", 0),
            "sites_found": stats.get("sites_found", 0),
            "sites_flagged": stats.get("sites_flagged", 0),
            "flagged_pages": stats.get("flagged_pages", 0),
            "pages_per_s": stats.get("pages_per_s", 0.0),
            "in_flight": stats.get("in_flight", 0),
            "errors": stats.get("errors", {}),
            "elapsed_s": stats.get("elapsed_s", 0.0),
        },
        "control": job.control,
        "created_by": job.created_by,
        "created_at": _iso(job.created_at),
        "started_at": _iso(job.started_at),
        "finished_at": _iso(job.finished_at),
        "heartbeat_at": _iso(job.heartbeat_at),
        "error": job.error,
    }


async def job_progress(db: Database, job_id: int) -> dict[str, int]:
    """Totals over the job's whole life (all its runs): pages stored, URLs left, sites, flags."""
    async with db.session() as session:
        _, queued = await frontier_counts(session, job_id)
        fetched = await session.scalar(
            select(func.count()).select_from(Page).where(Page.job_id == job_id)) or 0
        site_ids = select(Page.site_id).where(Page.job_id == job_id).distinct()
        sites_found = await session.scalar(
            select(func.count()).select_from(site_ids.subquery())) or 0
        sites_flagged = await session.scalar(
            select(func.count()).select_from(Site)
            .where(Site.id.in_(site_ids), Site.flagged.is_(True))) or 0
        flagged_pages = await session.scalar(
            select(func.count()).select_from(Page).join(Verdict, Verdict.page_id == Page.id)
            .where(Page.job_id == job_id, Verdict.label == "drugs")) or 0
    return {"pages_fetched": fetched, "pages_queued": queued, "sites_found": sites_found,
            "sites_flagged": sites_flagged, "flagged_pages": flagged_pages}


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _age(moment: datetime | None, now: datetime) -> timedelta:
    if moment is None:
        return timedelta(0)
    return now - (moment if moment.tzinfo else moment.replace(tzinfo=UTC))


def process_state(job: Job, now: datetime | None = None) -> str:
    """``alive``, ``dead`` (its process is gone) or ``stuck`` (alive but silent too long)."""
    if job.status not in ACTIVE or job.pid is None:
        return "alive"
    silent = _age(job.heartbeat_at, now or datetime.now(UTC)) > STALE_AFTER
    if job.host != socket.gethostname():
        return "dead" if silent else "alive"
    if not _pid_alive(job.pid):
        return "dead"
    return "stuck" if silent and job.status == "running" else "alive"


async def check_jobs(db: Database) -> list[str]:
    """End jobs whose process died or froze: mark them failed, saying how to continue.

    A frozen process (no heartbeat for ``STALE_AFTER``) on this host is killed, so that a job
    never hangs silently. Returns the names of the jobs ended.
    """
    ended = []
    async with db.session() as session, session.begin():
        for job in (await session.scalars(select(Job).where(Job.status.in_(ACTIVE)))).all():
            state = process_state(job)
            if state == "alive":
                continue
            if state == "stuck":
                with contextlib.suppress(ProcessLookupError):
                    os.kill(job.pid, signal.SIGKILL)
                what = (f"stuck: no heartbeat for {int(STALE_AFTER.total_seconds())}s, so its "
                        f"process (pid {job.pid}) was ended")
            else:
                what = (f"the crawl process (pid {job.pid} on {job.host}) ended without a word: "
                        "killed, crashed or the machine restarted")
            job.error = f"{what}; `trawler jobs resume {job.name}` continues where it stopped"
            job.status, job.pid, job.control = "failed", None, None
            job.finished_at = datetime.now(UTC)
            ended.append(job.name)
    return ended


async def _with_db(db_or_config: Database | Config) -> tuple[Database, bool]:
    if isinstance(db_or_config, Database):
        return db_or_config, False
    return await open_database(db_or_config.db_url), True


async def _control(db_or_config: Database | Config, name: str, action: str) -> Job:
    db, owned = await _with_db(db_or_config)
    try:
        await check_jobs(db)
        async with db.session() as session, session.begin():
            job = await session.scalar(select(Job).where(Job.name == name))
            if job is None:
                raise JobError(f"no job named {name!r} (see `trawler jobs list`)")
            if job.status == "running" or (job.status == "queued" and job.pid is not None):
                job.control = action  # read by the process on its next heartbeat
            elif action == "pause" and job.status == "queued":
                job.status = "paused"
            elif action == "stop" and job.status in RESUMABLE:
                job.status, job.finished_at = "stopped", datetime.now(UTC)
            else:
                raise JobError(f"job {name!r} is {job.status}; nothing to {action}")
        return job
    finally:
        if owned:
            await db.close()


async def pause_job(db_or_config: Database | Config, name: str) -> Job:
    """Ask a job to stop after its in-flight pages; it keeps its frontier for ``resume_job``."""
    return await _control(db_or_config, name, "pause")


async def stop_job(db_or_config: Database | Config, name: str) -> Job:
    """End a job for good (it cannot be resumed); pages fetched so far stay."""
    return await _control(db_or_config, name, "stop")


def spawn_job(config: Config, name: str) -> int:
    """Run ``trawler jobs run NAME`` in a new background process; returns its pid."""
    job_dir = config.jobs_dir / name
    job_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, TRAWLER_MODEL=str(config.model_path))
    with (job_dir / "job.log").open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "crawler", "--data", str(config.data_dir),
             "--db", config.db_url, "jobs", "run", name],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            cwd=PROJECT_ROOT, env=env, start_new_session=True)
    # Reap it when it ends so it never lingers as a zombie that looks alive.
    threading.Thread(target=process.wait, name=f"job-{name}", daemon=True).start()
    return process.pid


async def _spawn(db: Database, config: Config, job: Job) -> Job:
    pid = spawn_job(config, job.name)
    async with db.session() as session, session.begin():
        row = await session.get(Job, job.id)
        assert row is not None
        row.pid, row.host, row.status = pid, socket.gethostname(), "queued"
        row.heartbeat_at = datetime.now(UTC)
    return row


async def start_job(config: Config, name: str, seeds: list[dict[str, Any]],
                    created_by: str | None = None,
                    settings: dict[str, Any] | None = None) -> Job:
    """Create a job and start it in its own process; returns at once (status ``queued``)."""
    db = await open_database(config.db_url)
    try:
        job = await create_job(db, name, seeds, settings or job_settings(config), created_by)
        return await _spawn(db, config, job)
    finally:
        await db.close()


async def resume_job(db_or_config: Database | Config, name: str,
                     config: Config | None = None) -> Job:
    """Start a paused, failed or killed job again in its own process; it continues its frontier."""
    if config is None:
        if isinstance(db_or_config, Config):
            config = db_or_config
        else:
            from crawler.config import load_config

            config = load_config(db=db_or_config.engine.url.render_as_string(
                hide_password=False))
    db, owned = await _with_db(db_or_config)
    try:
        job = await claimable_job(db, name)
        return await _spawn(db, config, job)
    finally:
        if owned:
            await db.close()


async def claimable_job(db: Database, name: str, pid: int | None = None) -> Job:
    """The job if it may be (re)started now (by process ``pid``), else a JobError saying why not.

    A queued job with a pid was spawned for that process, which alone may claim it.
    """
    await check_jobs(db)
    job = await get_job(db, name)
    if job.status in RESUMABLE and (job.status != "queued" or job.pid in (None, pid)):
        return job
    if job.status in ACTIVE:
        raise JobError(f"job {name!r} is already {job.status} (pid {job.pid} on {job.host}); "
                       f"pause or stop it first")
    raise JobError(f"job {name!r} is {job.status} and cannot be resumed; start a new job "
                   "with `trawler crawl --job NEW_NAME`")


def job_settings(config: Config, spider: str = "trawler") -> dict[str, Any]:
    """What a job remembers of the configuration it was started with."""
    crawl = config.crawl
    return {"max_pages": crawl.max_pages, "depth": crawl.depth, "proxy": crawl.proxy,
            "tor": crawl.tor, "allow_private": crawl.allow_private, "spider": spider}


def job_config(config: Config, job: Job) -> Config:
    """The configuration a job runs with: the stored job settings over the current defaults."""
    settings = job.settings or {}
    return config.with_crawl(**{key: settings.get(key) for key in
                                ("max_pages", "depth", "proxy", "tor", "allow_private")})
