"""The web Jobs page and its JSON API: an operator starts, watches, pauses, resumes, stops."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from crawler.config import load_config
from crawler.jobs import create_job, get_job
from crawler.review import create_app
from crawler.review.accounts import find_user, issue_api_token
from crawler.store import open_database
from tests.review_fixtures import PASSWORD, FakeEvidence, make_review_db

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
async def operator(tmp_path: Path) -> AsyncIterator[tuple[TestClient, str]]:
    """A client signed in as the operator olga, and the database URL."""
    data = await make_review_db(tmp_path)
    # No model: every job process ends at once ("could not start"), so nothing is crawled.
    config = replace(load_config(data=tmp_path, db=data.db_url), model_path=tmp_path / "none")
    client = TestClient(TestServer(create_app(config, evidence=FakeEvidence()),
                                   host="127.0.0.1"))
    await client.start_server()
    page = await client.get("/login")
    token = CSRF.search(await page.text()).group(1)
    signed = await client.post("/login", data={"name": "olga", "password": PASSWORD,
                                               "csrf_token": token}, allow_redirects=False)
    assert signed.status == 302
    yield client, data.db_url
    await client.close()


async def until_ended(db_url: str, name: str) -> str:
    db = await open_database(db_url)
    try:
        deadline = time.monotonic() + 120
        while (job := await get_job(db, name)).status in ("queued", "running"):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.2)
        return job.status
    finally:
        await db.close()


async def test_operator_starts_a_job_from_the_page(operator) -> None:  # type: ignore[no-untyped-def]
    client, db_url = operator
    page = await client.get("/jobs")
    text = await page.text()
    assert page.status == 200 and 'action="/jobs"' in text and "demo.yaml" in text
    token = CSRF.search(text).group(1)
    started = await client.post("/jobs", data={
        "csrf_token": token, "name": "from-web", "seed_file": "demo.yaml",
        "seeds": "http://extra.example/\n", "max_pages": "50", "depth": "1"})
    assert started.status == 200 and "Job from-web started with 3 seed(s)" in await started.text()
    db = await open_database(db_url)
    try:
        job = await get_job(db, "from-web")
    finally:
        await db.close()
    assert job.created_by == "olga" and job.settings["max_pages"] == 50
    assert job.seeds[-1]["url"] == "http://extra.example/"
    assert await until_ended(db_url, "from-web") == "failed"  # no model in this test

    bad = await client.post("/jobs", data={"csrf_token": token, "seeds": "ftp://x/"})
    assert "Not started" in await bad.text() and "http(s)" in await bad.text()
    forged = await client.post("/jobs", data={"seeds": "http://a.example/"})
    assert forged.status == 403


async def test_pause_resume_stop_buttons(operator) -> None:  # type: ignore[no-untyped-def]
    client, db_url = operator
    db = await open_database(db_url)
    try:
        await create_job(db, "queued-one", [{"url": "http://a.example/"}], {})
    finally:
        await db.close()
    text = await (await client.get("/jobs")).text()
    assert 'action="/jobs/queued-one/pause"' in text
    token = CSRF.search(text).group(1)

    paused = await client.post("/jobs/queued-one/pause", data={"csrf_token": token})
    assert "queued-one: pause asked" in await paused.text()
    text = await (await client.get("/jobs")).text()
    assert 'action="/jobs/queued-one/resume"' in text
    await client.post("/jobs/queued-one/resume", data={"csrf_token": token})
    assert await until_ended(db_url, "queued-one") == "failed"
    await client.post("/jobs/queued-one/stop", data={"csrf_token": token})
    again = await client.post("/jobs/queued-one/resume", data={"csrf_token": token})
    assert "Refused" in await again.text() and "cannot be resumed" in await again.text()


async def test_json_api(operator) -> None:  # type: ignore[no-untyped-def]
    client, db_url = operator
    db = await open_database(db_url)
    try:
        async with db.session() as session, session.begin():
            token = await issue_api_token(session, await find_user(session, "olga"))
    finally:
        await db.close()
    headers = {"Authorization": f"Bearer {token}"}
    created = await client.post("/jobs", json={"name": "api-job", "seeds": [
        "http://a.example/"], "forum": True}, headers=headers)
    assert created.status == 201
    body = await created.json()
    assert body["name"] == "api-job" and body["settings"]["spider"] == "forum"
    await until_ended(db_url, "api-job")
    listed = await (await client.get("/jobs.json", headers=headers)).json()
    job = next(j for j in listed["jobs"] if j["name"] == "api-job")
    assert {"pages_fetched", "pages_queued", "sites_found", "sites_flagged", "pages_per_s",
            "errors"} <= job["stats"].keys()
    stopped = await client.post("/jobs/api-job/stop", headers=headers)
    assert stopped.status == 200 and (await stopped.json())["status"] == "stopped"
    refused = await client.post("/jobs/api-job/pause", headers=headers)
    assert refused.status == 409 and "stopped" in (await refused.json())["error"]
