"""The chain of custody: an append-only event log where each row hashes the one before it.

Editing or deleting any row breaks the chain at that row, which ``verify_chain`` reports.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crawler.store.models import CustodyEvent

GENESIS = "0" * 64
ACTIONS = ("captured", "viewed", "reviewed", "exported", "bundled")


def event_hash(prev_hash: str, action: str, actor: str, object_type: str, object_id: str,
               detail: dict[str, Any], created_at: datetime) -> str:
    payload = json.dumps(
        [prev_hash, action, actor, object_type, object_id, detail,
         created_at.astimezone(UTC).isoformat(timespec="microseconds")],
        ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


async def record_event(session: AsyncSession, action: str, actor: str, object_type: str,
                       object_id: str | int, detail: dict[str, Any] | None = None) -> CustodyEvent:
    """Append one event inside the caller's transaction."""
    if action not in ACTIONS:
        raise ValueError(f"unknown custody action {action!r}")
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        # One writer at a time extends the chain.
        from sqlalchemy import text

        await session.execute(text("LOCK TABLE custody_events IN EXCLUSIVE MODE"))
    prev = await session.scalar(
        select(CustodyEvent.hash).order_by(CustodyEvent.id.desc()).limit(1))
    prev_hash = prev or GENESIS
    created = datetime.now(UTC).replace(tzinfo=UTC)
    detail = detail or {}
    event = CustodyEvent(
        action=action, actor=actor, object_type=object_type, object_id=str(object_id),
        detail=detail, created_at=created, prev_hash=prev_hash,
        hash=event_hash(prev_hash, action, actor, object_type, str(object_id), detail, created),
    )
    session.add(event)
    await session.flush()
    return event


async def iter_events(session: AsyncSession, batch: int = 1000) -> AsyncIterator[CustodyEvent]:
    last = 0
    while True:
        rows = (await session.scalars(
            select(CustodyEvent).where(CustodyEvent.id > last)
            .order_by(CustodyEvent.id).limit(batch))).all()
        if not rows:
            return
        for row in rows:
            yield row
        last = rows[-1].id


async def verify_chain(session: AsyncSession) -> str | None:
    """None when the chain is whole, else a message naming the first broken event."""
    prev_hash = GENESIS
    async for event in iter_events(session):
        created = event.created_at
        if created.tzinfo is None:  # SQLite returns naive datetimes
            created = created.replace(tzinfo=UTC)
        if event.prev_hash != prev_hash:
            return (f"custody event {event.id} ({event.action} {event.object_type} "
                    f"{event.object_id}): previous-hash link broken (a row before it was "
                    "deleted or edited)")
        expected = event_hash(event.prev_hash, event.action, event.actor, event.object_type,
                              event.object_id, event.detail, created)
        if expected != event.hash:
            return (f"custody event {event.id} ({event.action} {event.object_type} "
                    f"{event.object_id}): content does not match its hash (edited)")
        prev_hash = event.hash
    return None
