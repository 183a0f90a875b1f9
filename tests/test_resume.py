"""Resuming: a job killed with ``kill -9`` mid-crawl, or paused and resumed by an operator,
ends with exactly the sites and pages of an uninterrupted crawl, and no stored page is fetched
again.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from crawler.config import load_config
from crawler.jobs import get_job, pause_job, resume_job, start_job
from crawler.store import open_database
from tests.conftest import ROOT, trawler

pytestmark = pytest.mark.skipif(not load_config().model_path.exists(),
                                reason="no trained model in models/trawler")

SEEDS = str(ROOT / "configs/seeds/demo.yaml")
FAST = '[crawl]\ntimeout = 4\nconcurrency = 4\n[scrapy]\nTRAWLER_SCREENSHOTS = false\n'


def crawl_args(web, name: str) -> list[str]:  # type: ignore[no-untyped-def]
    return ["crawl", SEEDS, "--job", name, "--proxy", web.proxy_url, "--tor", web.socks_url,
            "--depth", "20", "--max-pages", "3000", "-q"]


def outcome(data: Path) -> tuple[set[tuple[str, int | None]], set[str]]:
    """(pages as (url, status), sites) stored in a data dir."""
    db = sqlite3.connect(data / "trawler.db")
    try:
        pages = set(db.execute("select url, status from pages").fetchall())
        sites = {name for (name,) in db.execute("select name from sites")}
    finally:
        db.close()
    return pages, sites


def fetched(data: Path) -> int:
    try:
        db = sqlite3.connect(data / "trawler.db", timeout=5)
        try:
            return db.execute("select count(*) from frontier where fetched").fetchone()[0]
        finally:
            db.close()
    except sqlite3.OperationalError:  # not created yet
        return 0


def children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def env_for(tmp: Path) -> dict[str, str]:
    config = tmp / "fast.toml"
    config.write_text(FAST)
    return {"TRAWLER_CONFIG": str(config)}


@pytest.fixture(scope="module")
def uninterrupted(web, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    data = tmp_path_factory.mktemp("whole")
    result = trawler(*crawl_args(web, "whole"), data=data, env=env_for(data))
    assert result.returncode == 0, result.stderr[-3000:]
    pages, sites = outcome(data)
    assert len(pages) > 50 and any(s.endswith(".onion") for s in sites)
    return pages, sites


def test_kill_9_then_resume_gives_the_same_result(web, uninterrupted,  # type: ignore[no-untyped-def]
                                                 tmp_path: Path) -> None:
    env = {**os.environ, **env_for(tmp_path)}
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy"):
        env.pop(name, None)
    process = subprocess.Popen(
        [sys.executable, "-m", "crawler", *crawl_args(web, "killed"), "--data", str(tmp_path)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    target = len(uninterrupted[0]) // 3
    deadline = time.monotonic() + 240
    while fetched(tmp_path) < target:
        assert process.poll() is None, "the crawl ended before it could be killed"
        assert time.monotonic() < deadline, "the crawl made no progress"
        time.sleep(0.05)
    workers = children(process.pid)
    assert workers, "the crawl has no analysis worker processes"
    process.send_signal(signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + 15
    while (left := [pid for pid in workers if Path(f"/proc/{pid}").exists()
                    and not _zombie(pid)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left, "analysis workers outlived the killed crawl"

    before_pages, _ = outcome(tmp_path)
    assert 0 < len(before_pages) < len(uninterrupted[0])
    shown = json.loads(trawler("jobs", "show", "killed", "--json", data=tmp_path).stdout)
    assert shown["status"] == "failed" and "jobs resume killed" in shown["error"]
    mark = len(web.requests)
    resumed = trawler("jobs", "resume", "killed", "-q", data=tmp_path, env=env_for(tmp_path))
    assert resumed.returncode == 0, resumed.stderr[-3000:]

    assert outcome(tmp_path) == uninterrupted
    again = {f"http://{r.host}{r.path}" for r in web.requests[mark:]}
    assert not again & {url for url, _ in before_pages}, "a stored page was fetched again"
    db = sqlite3.connect(tmp_path / "trawler.db")
    status, = db.execute("select status from jobs where name = 'killed'").fetchone()
    assert status == "finished"
    assert db.execute("select count(*) from frontier where not fetched").fetchone()[0] == 0


def test_operator_pauses_and_resumes_a_background_job(web, uninterrupted,  # type: ignore[no-untyped-def]
                                                     tmp_path: Path, monkeypatch) -> None:
    """The fictional web holds its answers after a few pages, so the pause lands mid-crawl
    whatever the machine's speed; it lets them through once the job says it is closing."""
    quick = tmp_path / "quick.toml"  # a quicker heartbeat: the pause is seen sooner; held
    # answers must not time out while the test waits for it
    quick.write_text(FAST.replace("timeout = 4", "timeout = 12") + "TRAWLER_HEARTBEAT = 0.3\n")
    monkeypatch.setenv("TRAWLER_CONFIG", str(quick))
    config = load_config(data=tmp_path).with_crawl(proxy=web.proxy_url, tor=web.socks_url,
                                                   depth=20, max_pages=3000)
    from crawler.seeds import load_seeds

    seeds = [s.to_dict() for s in load_seeds([SEEDS])]

    async def scenario() -> None:
        web.hold(after=12)
        try:
            job = await start_job(config, "ops", seeds, created_by="operator")
            assert job.status == "queued"
            db = await open_database(config.db_url)
            try:
                await until(db, lambda j: j.status == "running" and
                            j.stats.get("pages_fetched", 0) > 0)
                await pause_job(config, "ops")
                await until(db, lambda j: j.stats.get("closing") == "paused")
                web.release()
                paused = await until(db, lambda j: j.status == "paused")
                assert 0 < paused.stats["pages_fetched"] < len(uninterrupted[0])
                assert paused.stats["pages_queued"] > 0
                assert "closing" not in paused.stats
                await resume_job(config, "ops")
                done = await until(db, lambda j: j.status == "finished")
                assert done.stats["pages_fetched"] == len(uninterrupted[0])
                assert done.stats["pages_queued"] == 0
                assert done.stats["sites_found"] == len(uninterrupted[1])
            finally:
                await db.close()
        finally:
            web.release()

    async def until(db, ready):  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + 240
        while True:
            job = await get_job(db, "ops")
            if ready(job):
                return job
            assert job.status not in ("failed", "stopped"), job.error
            assert time.monotonic() < deadline, f"job stuck in {job.status}: {job.stats}"
            await asyncio.sleep(0.1)

    asyncio.run(scenario())
    assert outcome(tmp_path) == uninterrupted
