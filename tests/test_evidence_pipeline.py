"""The evidence pipeline on pages built from the fictional web (store → evidence, as in a crawl):
drug pages and flagged sites are captured, screenshots are taken by the real Chromium worker,
truncation is recorded, a full disk stops the crawl and loses nothing written."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from scrapy.utils.test import get_crawler
from sqlalchemy import func, select
from warcio.archiveiterator import ArchiveIterator

from classifiers import PageVerdict
from crawler.evidence.verify import verify_evidence
from crawler.extract import extract_page
from crawler.items import PageItem
from crawler.pipelines.entities import EntitiesPipeline
from crawler.pipelines.evidence import STORAGE_FULL, EvidencePipeline
from crawler.pipelines.store import StorePipeline
from crawler.store import open_database
from crawler.store.models import Capture, CustodyEvent, Screenshot, Site

SITES = Path(__file__).parent / "web" / "sites"
WARCIO = Path(sys.executable).parent / "warcio"
REASONS = [{"feature": "lexicon", "term": "клад", "weight": 1.2}]

# (site, path, score); >= 0.5 is a drugs verdict. Pages before the first drug page are
# buffered and captured when the site flips; index.html arrives truncated.
SHOP = [("shop-minsk.example", "rules.html", 0.2), ("shop-minsk.example", "districts.html", 0.3),
        ("shop-minsk.example", "oplata.html", 0.95), ("shop-minsk.example", "catalog.html", 0.9),
        ("shop-minsk.example", "index.html", 0.4)]
BENIGN = [("novosti-minsk.example", "index.html", 0.05)]


@dataclass
class FakeEngine:
    reasons: list[str] = field(default_factory=list)

    async def close_spider_async(self, *, reason: str = "cancelled") -> None:
        self.reasons.append(reason)


def page_item(site: str, path: str, score: float | None, truncate: bool = False) -> PageItem:
    body = (SITES / site / path).read_bytes()
    url = f"http://{site}/{path}"
    item = PageItem(
        url=url, site=site, status=200, content_type="text/html; charset=utf-8",
        headers={"Content-Type": "text/html; charset=utf-8", "Server": "fictional-web",
                 "Content-Length": str(len(body))},
        request_headers={"User-Agent": "trawler-test", "Accept": "text/html"},
        body=body[:400] if truncate else body, truncated=truncate, route="proxy",
        ip_address="127.0.0.1", fetched_at=datetime.now(UTC),
        extracted=extract_page(body, url, "text/html; charset=utf-8"))
    if score is not None:
        item.verdict = PageVerdict(label="drugs" if score >= 0.5 else "benign", score=score,
                                   threshold=0.5, model_version="test-model",
                                   reasons=REASONS if score >= 0.5 else [])
    return item


def shop_items() -> list[PageItem]:
    return [page_item(s, p, v, truncate=p == "index.html") for s, p, v in SHOP + BENIGN]


async def run_pipelines(data: Path, items: list[PageItem], **settings: Any) -> FakeEngine:
    """Pass items through entities → store → evidence, as Scrapy would, then close."""
    crawler = get_crawler(settings_dict={
        "TRAWLER_DB_URL": f"sqlite:///{data / 'trawler.db'}", "TRAWLER_DATA_DIR": str(data),
        "TRAWLER_PROXY": "http://127.0.0.1:9", "TRAWLER_MAX_PAGE_BYTES": 400,
        "USER_AGENT": "trawler-test", "TRAWLER_OPERATOR": "test operator",
        "TRAWLER_EVIDENCE_BATCH": 2, **settings})
    engine = FakeEngine()
    crawler.engine = engine  # type: ignore[assignment]
    entities, store, evidence = (EntitiesPipeline(), StorePipeline(crawler),
                                 EvidencePipeline(crawler))
    await store.open_spider()
    await evidence.open_spider()
    for item in items:
        await evidence.process_item(await store.process_item(await entities.process_item(item)))
    await store.close_spider()
    await evidence.close_spider()
    return engine


def build_evidence(data: Path, **settings: Any) -> FakeEngine:
    """A data directory with captured evidence (used by the verify and bundle tests too)."""
    import asyncio

    return asyncio.run(run_pipelines(data, shop_items(), **settings))


def warc_records(warc_dir: Path) -> list[Any]:
    found = []
    for path in sorted(warc_dir.glob("*.warc.gz")):
        with path.open("rb") as fh:
            for record in ArchiveIterator(fh):
                found.append((record.rec_type, record.rec_headers.get_header("WARC-Target-URI"),
                              dict(record.rec_headers.headers), record.content_stream().read()))
    return found


async def test_captures_screenshots_entities_and_verify(tmp_path: Path) -> None:
    engine = await run_pipelines(tmp_path, shop_items())
    assert engine.reasons == []
    db = await open_database(f"sqlite:///{tmp_path / 'trawler.db'}")
    try:
        async with db.session() as session:
            shop = await session.scalar(select(Site).where(Site.name == "shop-minsk.example"))
            assert shop is not None and shop.flagged, "two strong drug pages flag the shop"
            captures = (await session.scalars(select(Capture).order_by(Capture.id))).all()
            shots = (await session.scalars(select(Screenshot))).all()
            events = (await session.scalars(select(CustodyEvent))).all()
        reasons = {c.reason for c in captures if c.site_id == shop.id}
        assert len([c for c in captures if c.site_id == shop.id]) == 5
        assert all(c.site_id == shop.id for c in captures), "benign site pages are not captured"
        assert reasons == {"drugs-verdict", "flagged-site"}
        assert sum(c.reason == "drugs-verdict" for c in captures) == 2
        assert [c.truncated for c in captures].count(True) == 1
        assert [s.status for s in shots] == ["taken", "taken"], [s.error for s in shots]
        assert sum(e.object_type == "page" for e in events) == 5
        assert sum(e.object_type == "screenshot" for e in events) == 2

        report = await verify_evidence(db, tmp_path / "warc")
        assert (report.captures, report.screenshots, report.verdicts) == (5, 2, 5)
    finally:
        await db.close()

    records = warc_records(tmp_path / "warc")
    pngs = [r for r in records if r[0] == "resource"]
    assert {r[1] for r in pngs} == {"urn:screenshot:http://shop-minsk.example/oplata.html",
                                    "urn:screenshot:http://shop-minsk.example/catalog.html"}
    assert all(r[3].startswith(b"\x89PNG") for r in pngs)
    truncated = [r for r in records if r[0] == "response" and "WARC-Truncated" in r[2]]
    assert len(truncated) == 1 and truncated[0][1].endswith("/index.html")
    metadata = {r[1]: json.loads(r[3]) for r in records if r[0] == "metadata"}
    oplata = metadata["http://shop-minsk.example/oplata.html"]
    assert oplata["verdict"]["label"] == "drugs" and oplata["verdict"]["reasons"] == REASONS
    assert {"btc", "card", "qiwi", "telegram", "onion"} <= {e["kind"] for e in oplata["entities"]}
    assert metadata["http://shop-minsk.example/index.html"]["truncated"]["reason"] == "length"
    warcinfo = next(r for r in records if r[0] == "warcinfo")[3].decode()
    assert "operator: test operator" in warcinfo and "route: proxy" in warcinfo
    assert "http-header-user-agent: trawler-test" in warcinfo
    check = subprocess.run([str(WARCIO), "check", *map(str, (tmp_path / "warc").iterdir())],
                           capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout


async def test_site_cap_limits_pages_of_a_flagged_site(tmp_path: Path) -> None:
    await run_pipelines(tmp_path, shop_items(), TRAWLER_EVIDENCE_SITE_CAP=1,
                        TRAWLER_SCREENSHOTS=False)
    db = await open_database(f"sqlite:///{tmp_path / 'trawler.db'}")
    try:
        async with db.session() as session:
            reasons = (await session.scalars(select(Capture.reason))).all()
    finally:
        await db.close()
    assert sorted(reasons) == ["drugs-verdict", "drugs-verdict", "flagged-site"]


async def test_failed_screenshot_is_recorded(tmp_path: Path) -> None:
    await run_pipelines(tmp_path, shop_items(), TRAWLER_SCREENSHOT_TIMEOUT=0.001)
    db = await open_database(f"sqlite:///{tmp_path / 'trawler.db'}")
    try:
        async with db.session() as session:
            shots = (await session.scalars(select(Screenshot))).all()
        assert [(s.status, s.attempts) for s in shots] == [("failed", 2), ("failed", 2)]
        assert all("timed out" in (s.error or "") for s in shots)
        await verify_evidence(db, tmp_path / "warc")
    finally:
        await db.close()


async def test_full_disk_stops_the_crawl_and_keeps_what_was_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The third WARC write runs out of space: the crawl is stopped, earlier records intact."""
    real_write = os.write
    writes = {"n": 0}

    def write(fd: int, data: Any) -> int:
        if os.readlink(f"/proc/self/fd/{fd}").endswith(".warc.gz"):
            writes["n"] += 1
            if writes["n"] >= 4:  # warcinfo, two captures, then the disk is full
                real_write(fd, bytes(data)[:100])  # a partial record reaches the disk
                raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr("crawler.evidence.warc.os.write", write)
    engine = await run_pipelines(tmp_path, shop_items(), TRAWLER_SCREENSHOTS=False)
    monkeypatch.undo()
    assert engine.reasons == [STORAGE_FULL]
    db = await open_database(f"sqlite:///{tmp_path / 'trawler.db'}")
    try:
        async with db.session() as session:
            assert await session.scalar(select(func.count()).select_from(Capture)) == 2
        report = await verify_evidence(db, tmp_path / "warc")
        assert report.captures == 2
    finally:
        await db.close()
    (warc,) = (tmp_path / "warc").iterdir()
    assert len([r for r in warc_records(tmp_path / "warc") if r[0] == "response"]) == 2
    assert subprocess.run([str(WARCIO), "check", str(warc)], check=False).returncode == 0
    assert hashlib.sha256(warc.read_bytes()).hexdigest()  # readable to the end
