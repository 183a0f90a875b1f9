"""The one database session factory: an async engine for SQLite or PostgreSQL, tables created."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    async_sessionmaker,
    create_async_engine,
)

from crawler.config import ConfigError
from crawler.store.models import Base


class Database:
    """An engine plus its session factory; ``async with db.session() as s`` for a unit of work."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.session = async_sessionmaker(engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    async def close(self) -> None:
        await self.engine.dispose()


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    cur = dbapi_conn.cursor()
    # WAL lets the web app read while a crawl writes; foreign keys keep rows honest.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def normalize_url(url: str) -> str:
    """Accept plain ``sqlite:///`` and ``postgresql://`` URLs and pick the async drivers."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"--db {url!r} is not a database URL ({exc})") from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    elif backend in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    else:
        raise ConfigError(f"--db {url!r}: only SQLite and PostgreSQL are supported")
    return parsed.render_as_string(hide_password=False)


async def open_database(url: str, *, create: bool = True) -> Database:
    """Connect, and create any missing tables."""
    engine = create_async_engine(normalize_url(url), pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    db = Database(engine)
    if create:
        try:
            await _create_tables(engine)
        except OSError as exc:
            await engine.dispose()
            raise ConfigError(f"cannot reach database {make_url(url)!r}: {exc}") from exc
    return db


async def _create_tables(engine: AsyncEngine, attempts: int = 3) -> None:
    # Several components open a new database at once (Scrapy opens pipelines in parallel);
    # create_all checks, then creates, so a concurrent opener can win the race: try again.
    for attempt in range(attempts):
        try:
            async with engine.begin() as conn:
                await conn.run_sync(Base.metadata.create_all)
            return
        except (OperationalError, ProgrammingError, IntegrityError) as exc:
            if "already exists" not in str(exc) or attempt == attempts - 1:
                raise
