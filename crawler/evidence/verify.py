"""Verifying evidence: every WARC streamed and every digest recomputed, verdicts checked against
their metadata records, the custody chain walked against its anchors.

The first broken thing is reported, named so a person can find it (file, offset, record, page).
Memory does not grow with the archives: records are streamed and only the metadata records
of the captures being checked are kept.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from crawler.evidence.custody import verify_chain
from crawler.evidence.warc import verdict_record
from crawler.store import Database
from crawler.store.models import Capture, CustodyEvent, Page, Screenshot, Site, Verdict, WarcFile

_CHUNK = 1 << 20


class EvidenceBroken(Exception):
    """The first thing that failed verification; the message names it."""


@dataclass
class VerifyReport:
    files: int = 0
    records: int = 0
    captures: int = 0
    screenshots: int = 0
    verdicts: int = 0
    custody_events: int = 0
    warnings: list[str] = field(default_factory=list)


@dataclass
class _FileScan:
    """What streaming one WARC file found."""

    records: int = 0
    record_ids: set[str] = field(default_factory=set)
    metadata: dict[str, dict[str, Any]] = field(default_factory=dict)  # wanted record id -> doc
    anchors: set[tuple[int, str]] = field(default_factory=set)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _range_sha256(path: Path, offset: int, length: int) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        fh.seek(offset)
        left = length
        while left > 0:
            chunk = fh.read(min(_CHUNK, left))
            if not chunk:
                break
            digest.update(chunk)
            left -= len(chunk)
    return digest.hexdigest()


def _file_sha256(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def scan_warc(path: Path, wanted_metadata: set[str]) -> _FileScan:
    """Stream one WARC file, recomputing every block and payload digest.

    Raises ``EvidenceBroken`` at the first record that cannot be read or fails a digest.
    """
    scan = _FileScan()
    offset = 0
    try:
        with path.open("rb") as fh:
            records = ArchiveIterator(fh, check_digests=True)
            for record in records:
                keep = record.rec_type == "metadata"
                content = bytearray()
                stream = record.raw_stream  # digests are computed on what is read through it
                while chunk := stream.read(_CHUNK):
                    if keep:
                        content += chunk
                offset = records.get_record_offset()  # (before reading, it would skip the record)
                headers = record.rec_headers
                record_id = headers.get_header("WARC-Record-ID") or ""
                where = (f"{path.name} offset {offset} ({record.rec_type} record {record_id} "
                         f"{headers.get_header('WARC-Target-URI') or ''})").replace(" )", ")")
                if not (headers.get_header("WARC-Block-Digest")):
                    raise EvidenceBroken(f"{where}: has no WARC-Block-Digest to check")
                if record.digest_checker.passed is False:
                    problems = "; ".join(record.digest_checker.problems)
                    raise EvidenceBroken(f"{where}: {problems} (the record was altered)")
                scan.records += 1
                scan.record_ids.add(record_id)
                if keep:
                    try:
                        doc = json.loads(bytes(content))
                    except ValueError as exc:
                        raise EvidenceBroken(f"{where}: metadata is not JSON ({exc})") from exc
                    anchor = doc.get("custody_anchor") if isinstance(doc, dict) else None
                    if anchor:
                        scan.anchors.add((int(anchor["count"]), str(anchor["head"])))
                    if record_id in wanted_metadata:
                        scan.metadata[record_id] = doc
    except EvidenceBroken:
        raise
    except (ArchiveLoadFailed, zlib.error, EOFError, OSError, ValueError) as exc:
        raise EvidenceBroken(f"{path.name}: unreadable after offset {offset} "
                             f"({type(exc).__name__}: {exc}); the file was altered or cut") from exc
    return scan


def _verdict_differs(stored: Verdict | None, recorded: dict[str, Any] | None) -> str | None:
    """How the database verdict differs from the one in the metadata record, if it does."""
    if recorded is None:
        return None if stored is None else "a verdict exists that no capture recorded"
    if stored is None:
        return f"the verdict ({recorded['label']}) was deleted"
    now = verdict_record(stored)
    assert now is not None
    for key in ("label", "model_version"):
        if now[key] != recorded.get(key):
            return f"{key} {recorded.get(key)!r} became {now[key]!r}"
    for key in ("score", "threshold"):
        if not math.isclose(now[key], float(recorded.get(key, "nan")), abs_tol=1e-9):
            return f"{key} {recorded.get(key)} became {now[key]}"
    if now["reasons"] != recorded.get("reasons"):
        return "its reasons were changed"
    return None


async def _scope(session: AsyncSession, sites: Sequence[str]) -> list[int] | None:
    if not sites:
        return None
    ids: list[int] = []
    for name in sites:
        site_id = await session.scalar(select(Site.id).where(Site.name == name.lower()))
        if site_id is None:
            raise LookupError(f"no site named {name!r} in the database; `trawler sites` lists them")
        ids.append(site_id)
    return ids


async def verify_evidence(db: Database, warc_dir: Path,
                          sites: Sequence[str] = ()) -> VerifyReport:
    """Check the evidence of ``sites`` (or all of it).

    Raises ``EvidenceBroken`` at the first fault, ``LookupError`` for an unknown site name.
    """
    report = VerifyReport()
    async with db.session() as session:
        site_ids = await _scope(session, sites)
        capture_query = select(Capture).order_by(Capture.warc_file_id, Capture.offset)
        shot_query = (select(Screenshot).join(Capture, Capture.id == Screenshot.capture_id)
                      .where(Screenshot.status == "taken"))
        if site_ids is not None:
            capture_query = capture_query.where(Capture.site_id.in_(site_ids))
            shot_query = shot_query.where(Capture.site_id.in_(site_ids))
        captures = list((await session.scalars(capture_query)).all())
        shots = list((await session.scalars(shot_query)).all())
        file_query = select(WarcFile).order_by(WarcFile.id)
        if site_ids is not None:
            used = {c.warc_file_id for c in captures} | {s.warc_file_id for s in shots}
            file_query = file_query.where(WarcFile.id.in_(used))
        files = list((await session.scalars(file_query)).all())
        urls = dict((await session.execute(select(Page.id, Page.url).where(
            Page.id.in_({c.page_id for c in captures})))).all())

    if site_ids is None and warc_dir.is_dir():
        known = {f.name for f in files}
        for path in sorted(warc_dir.glob("*.warc.gz")):
            if path.name not in known:
                report.warnings.append(f"{path.name}: not recorded in the database (written by "
                                       "a crawl that did not finish, or put there by hand)")

    anchors: set[tuple[int, str]] = set()
    metadata: dict[str, dict[str, Any]] = {}
    for warc in files:
        path = warc_dir / warc.name
        if not path.is_file():
            raise EvidenceBroken(f"WARC file {warc.name} is missing from {warc_dir}")
        in_file = [c for c in captures if c.warc_file_id == warc.id]
        wanted = {c.metadata_id for c in in_file}
        scan = await asyncio.to_thread(scan_warc, path, wanted)
        report.files += 1
        report.records += scan.records
        anchors |= scan.anchors
        metadata.update(scan.metadata)
        for capture in in_file:
            where = f"capture {capture.id} of {urls.get(capture.page_id, 'a deleted page')} " \
                    f"({warc.name} offset {capture.offset})"
            if capture.response_id not in scan.record_ids:
                raise EvidenceBroken(f"{where}: its response record {capture.response_id} is "
                                     "not in the file")
            if await asyncio.to_thread(_range_sha256, path, capture.offset,
                                       capture.length) != capture.sha256:
                raise EvidenceBroken(f"{where}: the bytes differ from those written (SHA-256 "
                                     "mismatch)")
            report.captures += 1
        for shot in (s for s in shots if s.warc_file_id == warc.id):
            assert shot.offset is not None and shot.length is not None
            if shot.record_id not in scan.record_ids or await asyncio.to_thread(
                    _range_sha256, path, shot.offset, shot.length) != shot.sha256:
                raise EvidenceBroken(f"screenshot {shot.id} ({warc.name} offset {shot.offset}): "
                                     "the record is missing or its bytes differ from those "
                                     "written")
            report.screenshots += 1
        if warc.sha256 is not None:
            size, digest = await asyncio.to_thread(_file_sha256, path)
            if (size, digest) != (warc.size, warc.sha256):
                raise EvidenceBroken(f"WARC file {warc.name}: SHA-256 differs from the one "
                                     "recorded when it was closed (the file was altered)")

    async with db.session() as session:
        await _check_verdicts(session, captures, metadata, report)
        problem = await verify_chain(session, anchors)
        if problem:
            raise EvidenceBroken(problem)
        report.custody_events = await session.scalar(
            select(func.count()).select_from(CustodyEvent)) or 0
    return report


async def _check_verdicts(session: AsyncSession, captures: Sequence[Capture],
                          metadata: dict[str, dict[str, Any]], report: VerifyReport) -> None:
    """Each page's stored verdict must be the one its latest capture recorded."""
    latest: dict[int, Capture] = {}
    for capture in captures:
        seen = latest.get(capture.page_id)
        if seen is None or (_aware(capture.fetched_at), capture.id) > (
                _aware(seen.fetched_at), seen.id):
            latest[capture.page_id] = capture
    page_ids = list(latest)
    for start in range(0, len(page_ids), 500):
        chunk = page_ids[start:start + 500]
        pages = {p.id: p for p in (await session.scalars(
            select(Page).where(Page.id.in_(chunk)))).all()}
        verdicts = {v.page_id: v for v in (await session.scalars(
            select(Verdict).where(Verdict.page_id.in_(chunk)))).all()}
        for page_id in chunk:
            capture = latest[page_id]
            doc = metadata.get(capture.metadata_id)
            where = f"page {page_id}"
            if doc is None:
                raise EvidenceBroken(f"{where}: metadata record {capture.metadata_id} of capture "
                                     f"{capture.id} was not found")
            page = pages.get(page_id)
            if page is None:
                raise EvidenceBroken(f"{where} ({doc.get('url')}): captured but deleted from "
                                     "the database")
            where = f"page {page_id} ({page.url})"
            if doc.get("page_id") != page_id or doc.get("url") != page.url:
                raise EvidenceBroken(f"{where}: capture {capture.id} points at a metadata "
                                     "record of another page")
            if _aware(page.fetched_at) > _aware(capture.fetched_at):
                continue  # fetched again later and not captured then: its verdict is newer
            differs = _verdict_differs(verdicts.get(page_id), doc.get("verdict"))
            if differs:
                raise EvidenceBroken(f"{where}: stored verdict does not match its capture's "
                                     f"metadata record {capture.metadata_id}: {differs}")
            report.verdicts += 1
