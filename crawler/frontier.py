"""A job's persistent frontier: every URL it scheduled, and whether that URL's page is stored.

The spider writes the links a page leads to before the page itself reaches storage, and the
store pipeline marks a URL fetched in the transaction that stores its page. So whenever a job
stops (pause, reboot, ``kill -9``), the URLs not marked fetched are exactly the work left.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from crawler.batching import MicroBatcher
from crawler.store import Database, open_database
from crawler.store.models import FrontierURL
from crawler.store.queries import url_hash


@dataclass(frozen=True)
class Entry:
    """A URL to fetch, how many link hops from its seed, and which seed (index) led to it."""

    url: str
    depth: int
    seed: int


@dataclass
class FrontierState:
    """What a job had scheduled when it last stopped."""

    seen: set[str] = field(default_factory=set)
    pending: list[Entry] = field(default_factory=list)
    per_seed: Counter[int] = field(default_factory=Counter)


async def add_entries(session: AsyncSession, job_id: int, entries: Sequence[Entry]) -> None:
    """Record scheduled URLs; a URL the job already has is left as it is."""
    if not entries:
        return
    rows = [{"job_id": job_id, "url": e.url, "url_hash": url_hash(e.url), "depth": e.depth,
             "seed": e.seed, "fetched": False} for e in entries]
    insert = postgresql_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    for start in range(0, len(rows), 500):  # stays under SQLite's bound-parameter limit
        await session.execute(insert(FrontierURL).values(rows[start:start + 500])
                              .on_conflict_do_nothing(index_elements=["job_id", "url_hash"]))


async def mark_fetched(session: AsyncSession, job_id: int | None, urls: Iterable[str]) -> None:
    """Mark URLs done; call inside the transaction that stores their pages."""
    hashes = [url_hash(u) for u in urls]
    if job_id is None or not hashes:
        return
    await session.execute(update(FrontierURL)
                          .where(FrontierURL.job_id == job_id, FrontierURL.url_hash.in_(hashes))
                          .values(fetched=True))


async def frontier_counts(session: AsyncSession, job_id: int) -> tuple[int, int]:
    """(fetched, queued) URLs of a job."""
    rows = (await session.execute(
        select(FrontierURL.fetched, func.count()).where(FrontierURL.job_id == job_id)
        .group_by(FrontierURL.fetched))).all()
    counts = {bool(fetched): n for fetched, n in rows}
    return counts.get(True, 0), counts.get(False, 0)


async def load_state(session: AsyncSession, job_id: int) -> FrontierState:
    state = FrontierState()
    rows = await session.execute(
        select(FrontierURL.url, FrontierURL.depth, FrontierURL.seed, FrontierURL.fetched)
        .where(FrontierURL.job_id == job_id).order_by(FrontierURL.id))
    for url, depth, seed, fetched in rows.all():
        state.seen.add(url)
        state.per_seed[seed] += 1
        if not fetched:
            state.pending.append(Entry(url, depth, seed))
    return state


class Frontier:
    """The spider's handle on a job's frontier; writes are batched across concurrent pages."""

    def __init__(self, db_url: str, job_id: int) -> None:
        self.db_url = db_url
        self.job_id = job_id
        self.db: Database | None = None
        self._batcher: MicroBatcher[list[Entry], None] = MicroBatcher(
            self._write, max_size=64, max_wait=0.01)

    async def open(self) -> FrontierState:
        self.db = await open_database(self.db_url)
        async with self.db.session() as session:
            return await load_state(session, self.job_id)

    async def add(self, entries: list[Entry]) -> None:
        """Returns once the entries are committed."""
        if entries:
            await self._batcher.submit(entries)

    async def _write(self, batches: list[list[Entry]]) -> list[None]:
        assert self.db is not None, "Frontier.open() first"
        async with self.db.session() as session, session.begin():
            await add_entries(session, self.job_id, [e for batch in batches for e in batch])
        return [None] * len(batches)

    async def close(self) -> None:
        await self._batcher.drain()
        if self.db is not None:
            await self.db.close()
            self.db = None
