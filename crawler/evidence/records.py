"""Evidence rows in the database: WARC files, captures and screenshots, each with its custody event.

Rows are written only after their WARC bytes are on disk (appended and synced), so every row
points at records that exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crawler.evidence.custody import record_event
from crawler.evidence.warc import Appended, CaptureRecords, ClosedFile, OpenedFile
from crawler.items import PageItem
from crawler.store.models import Capture, Screenshot, WarcFile


@dataclass
class CaptureDone:
    """A capture that reached the disk, waiting to be recorded."""

    item: PageItem
    reason: str
    records: CaptureRecords
    appended: Appended


async def file_ids(session: AsyncSession, names: set[str]) -> dict[str, int]:
    rows = await session.execute(select(WarcFile.name, WarcFile.id).where(WarcFile.name.in_(names)))
    return {name: id_ for name, id_ in rows.all()}


async def register_file(session: AsyncSession, opened: OpenedFile, job_id: int | None) -> None:
    session.add(WarcFile(name=opened.name, job_id=job_id, route=opened.route,
                         warcinfo_id=opened.warcinfo_id, warcinfo_length=opened.warcinfo_length))
    await session.flush()


async def close_files(session: AsyncSession, closed: Sequence[ClosedFile]) -> None:
    """Record the size and SHA-256 of WARC files that will not grow any more."""
    for done in closed:
        row = await session.scalar(select(WarcFile).where(WarcFile.name == done.name))
        if row is not None:
            row.size, row.sha256, row.closed_at = done.size, done.sha256, datetime.now(UTC)


async def save_captures(session: AsyncSession, done: Sequence[CaptureDone], job_id: int | None,
                        actor: str) -> list[int]:
    """Capture rows and one ``captured`` custody event each; returns the capture ids."""
    for capture in done:
        if capture.appended.new_file is not None:
            await register_file(session, capture.appended.new_file, job_id)
    ids = await file_ids(session, {c.appended.name for c in done})
    rows: list[Capture] = []
    for capture in done:
        item, appended = capture.item, capture.appended
        assert item.page_id is not None and item.site_id is not None
        row = Capture(
            page_id=item.page_id, site_id=item.site_id, job_id=job_id,
            warc_file_id=ids[appended.name], offset=appended.offset, length=appended.length,
            sha256=appended.sha256, response_id=capture.records.response_id,
            metadata_id=capture.records.metadata_id,
            payload_digest=capture.records.payload_digest, reason=capture.reason,
            truncated=item.truncated, fetched_at=item.fetched_at)
        session.add(row)
        rows.append(row)
    await session.flush()
    for row, capture in zip(rows, done, strict=True):
        await record_event(session, "captured", actor, "page", row.page_id, {
            "capture": row.id, "url": capture.item.url, "warc": capture.appended.name,
            "offset": row.offset, "length": row.length, "sha256": row.sha256,
            "response": row.response_id, "payload_digest": row.payload_digest,
            "reason": row.reason})
    return [row.id for row in rows]


async def save_screenshot(session: AsyncSession, capture_id: int, page_id: int, actor: str,
                          *, attempts: int, error: str | None = None,
                          appended: Appended | None = None, record_id: str | None = None,
                          png_sha256: str | None = None, job_id: int | None = None) -> None:
    """A taken screenshot (with its place in a WARC) or a failed one (with why)."""
    warc_file_id = None
    if appended is not None:
        if appended.new_file is not None:
            await register_file(session, appended.new_file, job_id)
        warc_file_id = (await file_ids(session, {appended.name}))[appended.name]
    row = Screenshot(
        capture_id=capture_id, status="taken" if appended is not None else "failed",
        attempts=attempts, error=error, warc_file_id=warc_file_id,
        offset=appended.offset if appended else None,
        length=appended.length if appended else None,
        sha256=appended.sha256 if appended else None, record_id=record_id,
        png_sha256=png_sha256)
    session.add(row)
    await session.flush()
    if appended is not None:
        await record_event(session, "captured", actor, "screenshot", row.id, {
            "page": page_id, "capture": capture_id, "warc": appended.name,
            "offset": appended.offset, "length": appended.length, "sha256": appended.sha256,
            "record": record_id, "png_sha256": png_sha256})
