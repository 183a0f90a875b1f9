"""The issue's "done when": reviewers approve the demo's flagged sites, every format exports
them and parses, and a re-export stays empty until something new is approved.

The database is filled from the fictional web's catalogue (sites, sale pages, identifiers)
rather than by crawling, and the approvals go through the review module's own rules
(four-eyes on).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import tests.web as demo
from crawler.exports import ExportRequest, export_batch
from crawler.exports.identifiers import domain_ascii
from crawler.review.decisions import decide, site_for_decision
from crawler.store import open_database
from crawler.store.db import Database
from crawler.store.models import Entity, Page, PageEntity, Site, User, Verdict
from crawler.store.queries import url_hash
from tests.test_export import FORMATS, parse_any

REVIEWERS = ("alice", "bob")


async def load_catalogue(db: Database) -> list[str]:
    """One flagged page per demo site (plus its sale threads) and the identifiers it shows."""
    names = sorted(demo.expected_flagged())
    threads = demo.sale_threads()
    async with db.session() as session:
        session.add_all(User(name=name, role="reviewer", password_hash="-") for name in REVIEWERS)
        entities: dict[tuple[str, str], Entity] = {}
        for name in names:
            meta = demo.sites()[name]
            site = Site(name=name, is_onion=name.endswith(".onion"), flagged=True, score=0.9)
            session.add(site)
            await session.flush()
            urls = [f"http://{name}{meta['entry']}", *threads.get(name, [])]
            pages = [Page(site_id=site.id, url=url, url_hash=url_hash(url), status=200)
                     for url in urls]
            session.add_all(pages)
            await session.flush()
            session.add_all(Verdict(page_id=p.id, label="drugs", score=0.9, threshold=0.5,
                                    model_version="demo") for p in pages)
            for kind, values in demo.entities(name).items():
                for value in values:
                    entity = entities.get((kind, value))
                    if entity is None:
                        entity = entities[(kind, value)] = Entity(kind=kind, value=value)
                        session.add(entity)
                        await session.flush()
                    session.add(PageEntity(page_id=pages[0].id, entity_id=entity.id))
        await session.commit()
    return names


async def approve(db: Database, site_name: str) -> None:
    async with db.session() as session:
        for reviewer in REVIEWERS:
            site = await site_for_decision(session, site_name)
            user = await session.get(User, REVIEWERS.index(reviewer) + 1)
            assert user is not None and user.name == reviewer
            await decide(session, site, user, "approve", "sells-drugs", None, four_eyes=True)
        await session.commit()


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await open_database(f"sqlite:///{tmp_path / 'demo.db'}")
    yield database
    await database.close()


async def export(db: Database, fmt: str, out: Path) -> int:
    async with db.session() as session:
        result = await export_batch(session, ExportRequest(format=fmt, user="admin", out=out))
    parse_any(fmt, out)
    return result.batch.items_count


async def test_demo_sites_approved_export_in_every_format(db: Database, tmp_path: Path) -> None:
    names = await load_catalogue(db)
    held_back = next(n for n in names if not n.endswith(".onion"))  # one DNS formats carry
    approved = [n for n in names if n != held_back]
    for name in approved:
        await approve(db, name)

    for fmt in FORMATS:
        first = tmp_path / f"first.{fmt}"
        assert await export(db, fmt, first) > 0
        text = first.read_text(encoding="utf-8")
        if fmt in ("rpz", "hosts"):
            assert ".onion" not in text
            assert all(domain_ascii(n) in text for n in approved if not n.endswith(".onion"))
        elif fmt != "wallets":
            assert all(domain_ascii(n) in text for n in approved)
        assert held_back not in text
        assert await export(db, fmt, tmp_path / f"again.{fmt}") == 0

    await approve(db, held_back)
    for fmt in FORMATS:
        later = tmp_path / f"later.{fmt}"
        assert await export(db, fmt, later) > 0
        if fmt not in ("rpz", "hosts", "wallets"):
            assert held_back in later.read_text(encoding="utf-8")
