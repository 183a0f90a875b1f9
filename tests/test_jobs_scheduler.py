"""Schedules: recurring seed-list crawls and re-checks of approved sites."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from crawler.config import load_config
from crawler.jobs import create_job, set_job_state
from crawler.scheduler import (
    ScheduleError,
    add_schedule,
    approved_site_seeds,
    describe_every,
    list_schedules,
    parse_every,
    remove_schedule,
    run_due,
)
from crawler.store import open_database
from crawler.store.models import APPROVED, Page, Site, Verdict
from tests.conftest import trawler

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("text", "seconds"), [
    ("daily", 86400), ("weekly", 604800), ("hourly", 3600), ("12h", 43200), ("30m", 1800),
    ("every 2d", 172800), ("1w", 604800),
])
def test_parse_every(text: str, seconds: int) -> None:
    assert parse_every(text) == seconds
    assert parse_every(describe_every(seconds).removeprefix("every ")) == seconds


@pytest.mark.parametrize("text", ["fortnightly", "0h", "5 s", "", "-1d"])
def test_bad_schedules_say_what_works(text: str) -> None:
    with pytest.raises(ScheduleError, match="hourly, daily, weekly"):
        parse_every(text)


class Starts:
    """Records the jobs the scheduler would start."""

    def __init__(self) -> None:
        self.jobs: list[tuple[str, list[dict[str, Any]], dict[str, Any]]] = []

    async def __call__(self, config, name, seeds, created_by=None, settings=None):  # type: ignore[no-untyped-def]
        self.jobs.append((name, seeds, settings or {}))


async def test_due_schedules_start_jobs_and_move_on(tmp_path: Path) -> None:
    config = load_config(data=tmp_path)
    db = await open_database(config.db_url)
    try:
        await add_schedule(db, "hubs", 86400, seeds=[{"url": "http://hub.example/"}],
                           settings={"depth": 2}, first_run=NOW)
        await add_schedule(db, "later", 3600, seeds=[{"url": "http://x.example/"}],
                           first_run=NOW + timedelta(hours=1))
        with pytest.raises(ScheduleError, match="exists"):
            await add_schedule(db, "hubs", 60, seeds=[{"url": "http://a.example/"}])
        with pytest.raises(ScheduleError, match="needs seeds"):
            await add_schedule(db, "empty", 60)
        starts = Starts()
        assert await run_due(config, NOW, start=starts) == ["hubs-20250301-120000"]
        name, seeds, settings = starts.jobs[0]
        assert seeds == [{"url": "http://hub.example/"}] and settings["depth"] == 2
        assert await run_due(config, NOW + timedelta(minutes=5), start=starts) == []
        hubs = {s.name: s for s in await list_schedules(db)}["hubs"]
        assert hubs.next_run_at.replace(tzinfo=UTC) == NOW + timedelta(days=1)
        assert hubs.last_job == name

        # The previous run is still going a day later: skip a round rather than pile up.
        job = await create_job(db, name, seeds, {})
        await set_job_state(db, job.id, "running", pid=__import__("os").getpid())
        assert await run_due(config, NOW + timedelta(days=1, minutes=1), start=starts) == [
            "later-20250302-120100"]
        await remove_schedule(db, "later")
        with pytest.raises(ScheduleError, match="no schedule"):
            await remove_schedule(db, "later")
    finally:
        await db.close()


async def test_approved_sites_are_rechecked(tmp_path: Path) -> None:
    config = load_config(data=tmp_path)
    db = await open_database(config.db_url)
    try:
        async with db.session() as session, session.begin():
            shop = Site(name="shop.example", status=APPROVED, flagged=True)
            other = Site(name="news.example")
            session.add_all([shop, other])
            await session.flush()
            page = Page(site_id=shop.id, url="http://shop.example/price", url_hash="a" * 64)
            session.add(page)
            await session.flush()
            session.add(Verdict(page_id=page.id, label="drugs", score=0.9, threshold=0.5,
                                model_version="m"))
        seeds = await approved_site_seeds(db)
        assert [s["url"] for s in seeds] == ["http://shop.example/", "http://shop.example/price"]
        await add_schedule(db, "recheck", 604800, kind="approved-sites", first_run=NOW)
        starts = Starts()
        await run_due(config, NOW, start=starts)
        assert starts.jobs[0][1] == seeds
    finally:
        await db.close()


def test_scheduler_cli(tmp_path: Path) -> None:
    seeds = tmp_path / "daily.yaml"
    seeds.write_text("schedule: daily\nseeds:\n  - http://hub.example/\n")
    added = trawler("scheduler", "add", "hubs", str(seeds), data=tmp_path)
    assert added.returncode == 0, added.stderr
    assert trawler("scheduler", "add", "recheck", "--approved-sites", "--every", "weekly",
                   data=tmp_path).returncode == 0
    bad = trawler("scheduler", "add", "x", "http://a.example/", "--every", "sometimes",
                  data=tmp_path)
    assert bad.returncode == 2 and "hourly, daily, weekly" in bad.stderr
    listed = trawler("scheduler", "list", "--json", data=tmp_path)
    rows = {row["name"]: row for row in __import__("json").loads(listed.stdout)}
    assert rows["hubs"]["every"] == "daily" and rows["recheck"]["kind"] == "approved-sites"
    assert trawler("scheduler", "remove", "hubs", data=tmp_path).returncode == 0
