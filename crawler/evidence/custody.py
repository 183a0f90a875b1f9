"""The chain of custody: an append-only event log where each row hashes the one before it.

Editing or deleting any row breaks the chain at that row, which ``verify_chain`` reports.
Deleting the *last* rows leaves a shorter chain that is still whole, so the chain is anchored:
``custody_head`` holds the count and last hash (updated in the event's own transaction), and
WARC metadata records and bundles carry copies of the head taken when they were written.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crawler.store.models import CustodyEvent, CustodyHead

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


async def _locked_head(session: AsyncSession) -> CustodyHead:
    """The anchor row, write-locked for this transaction so one writer extends the chain."""
    for _ in range(3):
        # A no-op UPDATE takes SQLite's write lock and PostgreSQL's row lock before we read.
        locked = await session.execute(
            update(CustodyHead).where(CustodyHead.id == 1).values(count=CustodyHead.count)
            .execution_options(synchronize_session=False))
        if locked.rowcount:  # type: ignore[attr-defined]
            head = await session.get(CustodyHead, 1, populate_existing=True)
            assert head is not None
            return head
        # First event, or a chain from before anchoring: anchor it as it stands.
        count = await session.scalar(select(func.count()).select_from(CustodyEvent)) or 0
        last = await session.scalar(
            select(CustodyEvent.hash).order_by(CustodyEvent.id.desc()).limit(1))
        head = CustodyHead(id=1, count=count, hash=last or GENESIS)
        try:
            async with session.begin_nested():
                session.add(head)
        except IntegrityError:
            continue  # another writer anchored the chain first: lock that row instead
        return head
    raise RuntimeError("could not lock the custody anchor row")


async def custody_head(session: AsyncSession) -> tuple[int, str]:
    """(number of events, hash of the last one): what WARCs and bundles record as an anchor."""
    head = await session.get(CustodyHead, 1, populate_existing=True)
    return (head.count, head.hash) if head is not None else (0, GENESIS)


async def record_event(session: AsyncSession, action: str, actor: str, object_type: str,
                       object_id: str | int, detail: dict[str, Any] | None = None) -> CustodyEvent:
    """Append one event inside the caller's transaction."""
    if action not in ACTIONS:
        raise ValueError(f"unknown custody action {action!r}")
    head = await _locked_head(session)
    created = datetime.now(UTC)
    detail = detail or {}
    event = CustodyEvent(
        action=action, actor=actor, object_type=object_type, object_id=str(object_id),
        detail=detail, created_at=created, prev_hash=head.hash,
        hash=event_hash(head.hash, action, actor, object_type, str(object_id), detail, created),
    )
    session.add(event)
    head.count += 1
    head.hash = event.hash
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


def _describe(event: CustodyEvent) -> str:
    return f"custody event {event.id} ({event.action} {event.object_type} {event.object_id})"


async def verify_chain(session: AsyncSession,
                       anchors: Iterable[tuple[int, str]] = ()) -> str | None:
    """None when the chain is whole, else a message naming the first broken event.

    ``anchors`` are (count, head hash) pairs recorded elsewhere (WARC metadata, bundles): the
    chain's event number ``count`` must still carry that hash.
    """
    wanted: dict[int, set[str]] = {}
    for count, head_hash in anchors:
        wanted.setdefault(count, set()).add(head_hash)
    prev_hash = GENESIS
    position = 0
    if wanted.pop(0, set()) - {GENESIS}:
        return "an anchor records an empty custody chain with a non-genesis head (forged anchor)"
    async for event in iter_events(session):
        position += 1
        created = event.created_at
        if created.tzinfo is None:  # SQLite returns naive datetimes
            created = created.replace(tzinfo=UTC)
        if event.prev_hash != prev_hash:
            return (f"{_describe(event)}: previous-hash link broken (a row before it was "
                    "deleted or edited)")
        expected = event_hash(event.prev_hash, event.action, event.actor, event.object_type,
                              event.object_id, event.detail, created)
        if expected != event.hash:
            return f"{_describe(event)}: content does not match its hash (edited)"
        for anchored in wanted.pop(position, set()):
            if anchored != event.hash:
                return (f"{_describe(event)}: is event number {position} of the chain but an "
                        f"anchor recorded {anchored[:16]}… there (events were deleted or replaced)")
        prev_hash = event.hash
    if wanted:
        beyond = max(wanted)
        return (f"custody chain has {position} events but an anchor in the evidence records "
                f"{beyond}: the last {beyond - position} event(s) were deleted")
    head = await session.get(CustodyHead, 1, populate_existing=True)
    if head is None:
        return (f"custody chain of {position} events has no anchor row (custody_head was "
                "deleted)") if position else None
    if head.count != position:
        if head.count > position:
            return (f"custody chain has {position} events but its anchor records {head.count}: "
                    f"the last {head.count - position} event(s) were deleted")
        return (f"custody chain has {position} events but its anchor records only "
                f"{head.count}: events were added without the anchor")
    if head.hash != prev_hash:
        return "the last custody event does not match the anchor's hash (it was replaced)"
    return None
