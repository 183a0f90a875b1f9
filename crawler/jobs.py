"""Jobs: one crawl run each, recorded in the database with its seeds, settings, state and stats."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from crawler.store import Database
from crawler.store.models import Job


class JobError(ValueError):
    """A job operation that cannot be done as asked (unknown name, wrong state)."""


def default_job_name() -> str:
    return "crawl-" + datetime.now(UTC).strftime("%Y%m%d-%H%M%S")


async def create_job(db: Database, name: str, seeds: list[dict[str, Any]],
                     settings: dict[str, Any], created_by: str | None = None) -> Job:
    async with db.session() as session, session.begin():
        if await session.scalar(select(Job.id).where(Job.name == name)) is not None:
            raise JobError(f"a job named {name!r} already exists; choose another --job name")
        job = Job(name=name, seeds=seeds, settings=settings, status="queued",
                  created_by=created_by)
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
            job.pid = pid
        if status in ("finished", "failed", "stopped"):
            job.finished_at = now
            job.pid = None
        if stats is not None:
            job.stats = stats
        if error is not None:
            job.error = error
        job.heartbeat_at = now
