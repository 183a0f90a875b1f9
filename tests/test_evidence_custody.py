"""The custody chain: whole when untouched; an edited row, a deleted row and a deleted *last* row
are each caught (the last through the anchor row and through anchors kept in evidence)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text

from crawler.evidence.custody import GENESIS, custody_head, record_event, verify_chain
from crawler.store import Database, open_database


@pytest.fixture
async def db(tmp_path: Path):
    database = await open_database(f"sqlite:///{tmp_path / 'custody.db'}")
    yield database
    await database.close()


async def _events(db: Database, n: int) -> None:
    for i in range(n):
        async with db.session() as session, session.begin():
            await record_event(session, "captured", "crawler:test", "page", i + 1,
                               {"sha256": f"{i:064x}"})


async def _verify(db: Database, anchors: list[tuple[int, str]] | None = None) -> str | None:
    async with db.session() as session:
        return await verify_chain(session, anchors or [])


async def _sql(db: Database, statement: str) -> None:
    async with db.engine.begin() as conn:
        await conn.execute(text(statement))


async def test_whole_chain_verifies_and_head_follows(db: Database) -> None:
    assert await _verify(db) is None
    async with db.session() as session:
        assert await custody_head(session) == (0, GENESIS)
    await _events(db, 5)
    assert await _verify(db) is None
    async with db.session() as session:
        count, head = await custody_head(session)
    assert count == 5 and head != GENESIS


async def test_unknown_action_is_refused(db: Database) -> None:
    async with db.session() as session:
        with pytest.raises(ValueError, match="unknown custody action"):
            await record_event(session, "deleted", "x", "page", 1)


async def test_edited_row_is_caught(db: Database) -> None:
    await _events(db, 5)
    await _sql(db, "UPDATE custody_events SET actor = 'someone else' WHERE id = 3")
    problem = await _verify(db)
    assert problem is not None and "custody event 3" in problem and "edited" in problem


async def test_deleted_middle_row_is_caught(db: Database) -> None:
    await _events(db, 5)
    await _sql(db, "DELETE FROM custody_events WHERE id = 2")
    problem = await _verify(db)
    assert problem is not None and "custody event 3" in problem and "deleted" in problem


async def test_deleted_last_row_is_caught_by_the_anchor(db: Database) -> None:
    await _events(db, 5)
    await _sql(db, "DELETE FROM custody_events WHERE id = 5")
    problem = await _verify(db)
    assert problem is not None and "the last 1 event(s) were deleted" in problem


async def test_deleted_last_rows_and_forged_anchor_row_caught_by_evidence_anchors(
        db: Database) -> None:
    """Rewriting custody_head too is caught by an anchor that a WARC or bundle carries."""
    await _events(db, 5)
    async with db.session() as session:
        anchor = await custody_head(session)
    async with db.session() as session:
        fourth = (await session.execute(
            text("SELECT hash FROM custody_events WHERE id = 4"))).scalar_one()
    await _sql(db, "DELETE FROM custody_events WHERE id = 5")
    await _sql(db, f"UPDATE custody_head SET count = 4, hash = '{fourth}'")
    assert await _verify(db) is None  # the database alone now looks whole...
    problem = await _verify(db, [anchor])
    assert problem is not None and "deleted" in problem  # ...the evidence's anchor says not


async def test_deleted_anchor_row_is_caught(db: Database) -> None:
    await _events(db, 2)
    await _sql(db, "DELETE FROM custody_head")
    problem = await _verify(db)
    assert problem is not None and "custody_head" in problem


async def test_concurrent_writers_keep_one_chain(db: Database) -> None:
    async def writer(n: int) -> None:
        for i in range(10):
            async with db.session() as session, session.begin():
                await record_event(session, "viewed", f"user{n}", "site", f"s{i}")

    await asyncio.gather(*(writer(n) for n in range(4)))
    assert await _verify(db) is None
    async with db.session() as session:
        assert (await custody_head(session))[0] == 40


async def test_concurrent_writers_on_postgresql(postgres_url: str) -> None:
    database = await open_database(postgres_url)
    try:
        await _sql(database, "DELETE FROM custody_events")
        await _sql(database, "DELETE FROM custody_head")

        async def writer(n: int) -> None:
            for i in range(10):
                async with database.session() as session, session.begin():
                    await record_event(session, "viewed", f"user{n}", "site", f"s{i}")

        await asyncio.gather(*(writer(n) for n in range(4)))
        assert await _verify(database) is None
    finally:
        await database.close()
