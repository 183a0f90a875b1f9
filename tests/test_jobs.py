"""Jobs in the database: states, controls, dead processes, the frontier, and the jobs CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crawler.config import load_config
from crawler.frontier import Entry, Frontier, add_entries, frontier_counts, mark_fetched
from crawler.jobs import (
    STALE_AFTER,
    JobError,
    check_jobs,
    create_job,
    get_job,
    job_progress,
    job_summary,
    list_jobs,
    pause_job,
    resume_job,
    set_job_state,
    start_job,
    stop_job,
)
from crawler.spiders.trawler import TrawlerSpider
from crawler.store import Database, open_database
from crawler.store.models import Job
from tests.conftest import trawler

SEEDS = [{"url": "http://shop.example/"}, {"url": "http://forum.example/", "max_pages": 2}]


@pytest.fixture
async def db(tmp_path: Path):  # type: ignore[no-untyped-def]
    database = await open_database(f"sqlite:///{tmp_path / 'trawler.db'}")
    yield database
    await database.close()


def config_for(tmp_path: Path):  # type: ignore[no-untyped-def]
    return load_config(data=tmp_path, db=f"sqlite:///{tmp_path / 'trawler.db'}")


async def test_create_list_and_summarise(db: Database) -> None:
    job = await create_job(db, "weekly-1", SEEDS, {"max_pages": 10}, created_by="ops")
    with pytest.raises(JobError, match=r"already exists.*jobs resume weekly-1"):
        await create_job(db, "weekly-1", SEEDS, {})
    with pytest.raises(JobError, match="job name"):
        await create_job(db, "../etc", SEEDS, {})
    jobs = await list_jobs(db)
    assert [j.name for j in jobs] == ["weekly-1"]
    summary = job_summary(jobs[0])
    assert summary["name"] == "weekly-1" and summary["status"] == "queued"
    assert summary["seeds"] == SEEDS and summary["created_by"] == "ops"
    assert set(summary["stats"]) >= {"pages_fetched", "pages_queued", "sites_found",
                                     "sites_flagged", "pages_per_s", "errors"}
    assert {"started_at", "finished_at", "heartbeat_at", "error"} <= summary.keys()
    json.dumps(summary)  # the web page's JSON twin serialises it as is
    assert job.id == jobs[0].id


async def test_pause_and_stop_a_job_that_has_no_process(db: Database) -> None:
    await create_job(db, "a", SEEDS, {})
    await create_job(db, "b", SEEDS, {})
    assert (await pause_job(db, "a")).status == "paused"
    assert (await stop_job(db, "b")).status == "stopped"
    with pytest.raises(JobError, match="paused; nothing to pause"):
        await pause_job(db, "a")
    with pytest.raises(JobError, match="stopped and cannot be resumed"):
        await resume_job(db, "b")
    with pytest.raises(JobError, match="no job named 'c'"):
        await stop_job(db, "c")


async def test_pause_of_a_running_job_asks_its_process(db: Database) -> None:
    job = await create_job(db, "live", SEEDS, {})
    await set_job_state(db, job.id, "running", pid=os.getpid())
    with pytest.raises(JobError, match="already running"):
        await resume_job(db, "live")
    await pause_job(db, "live")
    assert (await get_job(db, "live")).control == "pause"  # read on the next heartbeat
    await stop_job(db, "live")
    assert (await get_job(db, "live")).control == "stop"


async def test_a_frozen_job_is_ended_not_left_hanging(db: Database) -> None:
    job = await create_job(db, "frozen", SEEDS, {})
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        await set_job_state(db, job.id, "running", pid=sleeper.pid)
        assert await check_jobs(db) == []  # heartbeat is fresh
        async with db.session() as session, session.begin():
            row = await session.get(Job, job.id)
            row.heartbeat_at = datetime.now(UTC) - STALE_AFTER - timedelta(seconds=1)
        assert await check_jobs(db) == ["frozen"]
        assert sleeper.wait(timeout=10) == -signal.SIGKILL
        row = await get_job(db, "frozen")
        assert row.status == "failed" and row.error.startswith("stuck: no heartbeat")
    finally:
        sleeper.kill()


async def test_a_killed_job_is_noticed_and_can_be_resumed(db: Database) -> None:
    job = await create_job(db, "killed", SEEDS, {})
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    await set_job_state(db, job.id, "running", pid=gone.pid)
    assert await check_jobs(db) == ["killed"]
    row = await get_job(db, "killed")
    assert row.status == "failed" and "jobs resume killed" in row.error


async def test_frontier_keeps_what_is_left(db: Database) -> None:
    job = await create_job(db, "f", SEEDS, {})
    async with db.session() as session, session.begin():
        await add_entries(session, job.id, [Entry("http://shop.example/", 0, 0),
                                            Entry("http://shop.example/a", 1, 0)])
        await add_entries(session, job.id, [Entry("http://shop.example/a", 3, 1)])  # kept once
        await mark_fetched(session, job.id, ["http://shop.example/"])
    async with db.session() as session:
        assert await frontier_counts(session, job.id) == (1, 1)
    progress = await job_progress(db, job.id)
    assert progress["pages_queued"] == 1


async def test_spider_resumes_its_frontier(db: Database, tmp_path: Path) -> None:
    job = await create_job(db, "r", SEEDS, {})
    url = f"sqlite:///{tmp_path / 'trawler.db'}"

    async def start_requests() -> list[str]:
        spider = TrawlerSpider(seeds=SEEDS, max_pages=100)
        spider.frontier = Frontier(url, job.id)
        try:
            return [r.url async for r in spider.start()]
        finally:
            await spider.frontier.close()

    assert await start_requests() == ["http://shop.example/", "http://forum.example/"]
    async with db.session() as session, session.begin():
        await mark_fetched(session, job.id, ["http://shop.example/"])
        await add_entries(session, job.id, [Entry("http://shop.example/next", 1, 0)])
    # Seeds already scheduled are not scheduled again; only what was not stored comes back.
    assert await start_requests() == ["http://forum.example/", "http://shop.example/next"]


async def test_start_job_runs_in_its_own_process_and_reports_failure(tmp_path: Path) -> None:
    config = config_for(tmp_path)
    config = config.__class__(**{**config.__dict__, "model_path": tmp_path / "no-model"})
    job = await start_job(config, "bg", [{"url": "http://shop.example/"}], created_by="ops")
    assert job.status == "queued" and job.pid
    db = await open_database(config.db_url)
    try:
        deadline = time.monotonic() + 120
        while (row := await get_job(db, "bg")).status in ("queued", "running"):
            assert time.monotonic() < deadline, "the job process never ended"
            await __import__("asyncio").sleep(0.2)
    finally:
        await db.close()
    assert row.status == "failed" and "could not start" in row.error
    assert (tmp_path / "jobs" / "bg" / "job.log").exists()


def test_jobs_cli(tmp_path: Path) -> None:
    import asyncio

    async def make() -> None:
        database = await open_database(f"sqlite:///{tmp_path / 'trawler.db'}")
        try:
            await create_job(database, "nightly", SEEDS, {"max_pages": 5}, created_by="cli")
            await create_job(database, "other", SEEDS, {})
        finally:
            await database.close()

    asyncio.run(make())
    listed = trawler("jobs", "list", "--json", data=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert [j["name"] for j in json.loads(listed.stdout)] == ["other", "nightly"]
    shown = trawler("jobs", "show", "nightly", "--json", data=tmp_path)
    assert json.loads(shown.stdout)["seeds"] == SEEDS
    assert "pages fetched" in trawler("jobs", "show", "nightly", data=tmp_path).stdout
    assert trawler("jobs", "pause", "nightly", data=tmp_path).returncode == 0
    assert trawler("jobs", "stop", "other", data=tmp_path).returncode == 0
    again = trawler("jobs", "resume", "other", data=tmp_path)
    assert again.returncode == 2 and "cannot be resumed" in again.stderr
    assert "Traceback" not in again.stderr
    missing = trawler("jobs", "show", "nope", data=tmp_path)
    assert missing.returncode == 2 and "no job named 'nope'" in missing.stderr
    table = trawler("jobs", "list", data=tmp_path).stdout
    assert "paused" in table and "stopped" in table


def test_pid_of_this_process_is_alive() -> None:
    from crawler.jobs import _pid_alive

    assert _pid_alive(os.getpid())
