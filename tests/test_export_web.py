"""The /exports pages: admins list batches, make one from the form, download file and manifest."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from crawler.config import load_config
from crawler.review.accounts import add_user, issue_api_token
from crawler.review.app import create_app
from crawler.review.security import CSRF_FIELD, SESSION_COOKIE
from crawler.review.sessions import open_session, signed_in
from crawler.store import open_database
from tests.test_export import fill, parse_any

PASSWORD = "correct horse battery"


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    """The app on a filled database, with an admin's browser session and a reviewer's token."""
    url = f"sqlite:///{tmp_path / 'trawler.db'}"
    db = await open_database(url)
    await fill(db)
    async with db.session() as session, session.begin():
        admin = await add_user(session, "root", "admin", PASSWORD)
        reviewer = await add_user(session, "alice", "reviewer", PASSWORD)
        cookie = await open_session(session, admin)
        who = await signed_in(session, cookie)
        admin_token = await issue_api_token(session, admin)
        reviewer_token = await issue_api_token(session, reviewer)
    assert who is not None
    client = TestClient(TestServer(create_app(load_config(data=tmp_path, db=url), db)))
    await client.start_server()
    client.session.cookie_jar.update_cookies({SESSION_COOKIE: cookie})
    yield {"client": client, "csrf": who.csrf_token, "data": tmp_path,
           "admin": {"Authorization": f"Bearer {admin_token}"},
           "reviewer": {"Authorization": f"Bearer {reviewer_token}"}}
    await client.close()
    await db.close()


async def test_admin_exports_from_the_form_and_downloads(site: dict[str, Any]) -> None:
    client: TestClient = site["client"]
    page = await client.get("/exports")
    assert page.status == 200
    html = await page.text()
    assert 'name="format"' in html and "registry-xml" in html and "No export batches yet" in html

    made = await client.post("/exports", data={CSRF_FIELD: site["csrf"], "format": "rpz",
                                               "mode": "incremental"}, allow_redirects=False)
    assert made.status == 303 and made.headers["Location"] == "/exports"
    listing = await client.get("/exports")
    assert "Batch 1 (rpz): 2 items exported." in await listing.text()

    batches = (await (await client.get("/exports.json")).json())["batches"]
    assert [(b["batch"], b["format"], b["items"], b["created_by"]) for b in batches] == [
        (1, "rpz", 2, "root")]
    file = await client.get(batches[0]["download"])
    assert file.status == 200 and file.headers["Content-Type"].startswith("text/dns")
    body = await file.read()
    assert hashlib.sha256(body).hexdigest() == batches[0]["sha256"]
    stored = site["data"] / "exports" / batches[0]["file"]
    parse_any("rpz", stored)
    manifest = await (await client.get(batches[0]["manifest"])).read()
    assert json.loads(manifest)["sha256"] == batches[0]["sha256"]

    again = await client.post("/exports", data={CSRF_FIELD: site["csrf"], "format": "rpz"},
                              allow_redirects=False)
    assert again.status == 303
    assert "Batch 2 (rpz): 0 items exported." in await (await client.get("/exports")).text()


async def test_json_api_and_refusals(site: dict[str, Any]) -> None:
    client: TestClient = site["client"]
    made = await client.post("/exports", data={"format": "stix"}, headers=site["admin"])
    assert made.status == 201
    batch = await made.json()
    assert batch["format"] == "stix" and batch["items"] > 0

    bad = await client.post("/exports", data={"format": "csv", "mode": "since",
                                                   "since": "42"}, headers=site["admin"])
    assert bad.status == 400 and "no export batch 42" in (await bad.json())["error"]
    unknown = await client.post("/exports", data={"format": "pdf"}, headers=site["admin"])
    assert unknown.status == 400

    no_csrf = await client.post("/exports", data={"format": "csv"}, allow_redirects=False)
    assert no_csrf.status == 403
    reviewer = await client.post("/exports", data={"format": "csv"},
                                 headers=site["reviewer"])
    assert reviewer.status == 403
    assert (await client.get("/exports.json", headers=site["reviewer"])).status == 403
    assert (await client.get("/exports/99/file")).status == 404


async def test_a_changed_file_is_not_served(site: dict[str, Any]) -> None:
    client: TestClient = site["client"]
    batch = await (await client.post("/exports", data={"format": "hosts"},
                                     headers=site["admin"])).json()
    path = site["data"] / "exports" / batch["file"]
    path.write_text(path.read_text() + "0.0.0.0 innocent.example\n")
    response = await client.get(batch["download"])
    assert response.status == 409
