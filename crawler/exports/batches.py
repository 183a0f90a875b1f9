"""Export batches: pick what goes out, write the file and its manifest, record the batch.

A batch is one file in one format. Its items are recorded so that the next incremental
export in that format leaves them out, and the batch is an ``exported`` custody event.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crawler import __version__
from crawler.evidence.custody import record_event
from crawler.exports.approved import approved_identifiers
from crawler.exports.formats import FORMATS, BatchHeader, ExportFormat
from crawler.exports.identifiers import Identifier, as_utc
from crawler.store.models import ExportBatch, ExportItem

MODES = ("incremental", "all", "since")
MANIFEST_SUFFIX = ".manifest.json"


class ExportError(Exception):
    """An export the user asked for cannot be made; the message says why and what to do."""


@dataclass(frozen=True)
class ExportRequest:
    """What to export, where to, and who asks.

    ``out`` is the file to write; without it the file goes to ``exports_dir`` under a name
    made from the batch number and format.
    """

    format: str
    user: str
    mode: str = "incremental"
    since: int | None = None
    out: Path | None = None
    exports_dir: Path | None = None
    decision_org: str = "trawler review"
    rpz_origin: str = "rpz.trawler."


@dataclass(frozen=True)
class ExportResult:
    batch: ExportBatch
    path: Path
    manifest_path: Path
    counts: dict[str, int]

    def summary(self) -> str:
        """One line for people: batch number, how many items of which type, where."""
        batch = self.batch
        kinds = ", ".join(f"{n} {kind}" for kind, n in self.counts.items())
        what = f"{batch.items_count} items" + (f" ({kinds})" if kinds else "")
        if batch.items_count == 0:
            what += (" - nothing approved that is not already in an earlier "
                     f"{batch.format} batch" if batch.mode == "incremental" else
                     " - nothing approved to export")
        return (f"batch {batch.id} ({batch.format}, {batch.mode}): {what}; wrote {self.path} "
                f"sha256 {batch.sha256}; manifest {self.manifest_path}")


def configured_options(extra: dict[str, Any]) -> dict[str, str]:
    """``[export]`` settings that shape the files: ``decision_org``, ``rpz_origin``."""
    section = extra.get("export", {})
    return {key: str(section[key]) for key in ("decision_org", "rpz_origin") if key in section}


def manifest_path(path: Path) -> Path:
    return path.with_name(path.name + MANIFEST_SUFFIX)


def default_file_name(batch_number: int, export_format: ExportFormat) -> str:
    return f"trawler-batch-{batch_number:05d}-{export_format.name}.{export_format.extension}"


async def exported_keys(session: AsyncSession, format_name: str) -> set[tuple[str, str]]:
    """(type, value) of every item that already went out in this format."""
    rows = await session.execute(
        select(ExportItem.item_type, ExportItem.value).where(ExportItem.format == format_name))
    return {(item_type, value) for item_type, value in rows}


async def select_identifiers(session: AsyncSession, request: ExportRequest,
                             export_format: ExportFormat) -> list[Identifier]:
    approved_after = None
    if request.mode == "since":
        since = await session.get(ExportBatch, request.since) if request.since else None
        if since is None:
            raise ExportError(f"there is no export batch {request.since}: "
                              "`trawler export --list` shows the batch numbers")
        approved_after = as_utc(since.created_at)
    identifiers = [i for i in await approved_identifiers(session, approved_after)
                   if export_format.carries(i)]
    if request.mode == "incremental":
        done = await exported_keys(session, export_format.name)
        identifiers = [i for i in identifiers if i.key not in done]
    return identifiers


def _write(path: Path, export_format: ExportFormat, identifiers: list[Identifier],
           header: BatchHeader) -> tuple[str, int]:
    """Write the file next to its final name, then move it in place; returns (sha256, size)."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        with partial.open("wb") as out:
            export_format.write(identifiers, header, out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    digest = hashlib.sha256()
    with partial.open("rb") as written:
        for chunk in iter(lambda: written.read(1 << 20), b""):
            digest.update(chunk)
    os.replace(partial, path)
    return digest.hexdigest(), path.stat().st_size


def _manifest(batch: ExportBatch, path: Path, counts: dict[str, int]) -> dict[str, Any]:
    return {
        "batch": batch.id,
        "format": batch.format,
        "file": path.name,
        "sha256": batch.sha256,
        "size": batch.size,
        "items": batch.items_count,
        "counts": counts,
        "mode": batch.mode,
        "since_batch": batch.since_batch,
        "created_by": batch.created_by,
        "created_at": as_utc(batch.created_at).isoformat(timespec="seconds"),
        "generator": f"trawler {__version__}",
    }


def _target(request: ExportRequest, export_format: ExportFormat, batch_number: int) -> Path:
    if request.out is not None:
        return request.out.expanduser().resolve()
    if request.exports_dir is None:
        raise ValueError("an export request needs out or exports_dir")
    request.exports_dir.mkdir(parents=True, exist_ok=True)
    path = request.exports_dir.resolve() / default_file_name(batch_number, export_format)
    if path.exists():  # batch numbers restart with a new database; old files stay evidence
        raise ExportError(f"{path} exists from an earlier database: move the old exports "
                          f"out of {request.exports_dir} first")
    return path


def check_request(request: ExportRequest) -> ExportFormat:
    """The format asked for, after checking the request makes sense; ExportError if not."""
    export_format = FORMATS.get(request.format)
    if export_format is None:
        raise ExportError(f"unknown export format {request.format!r}: "
                          f"choose one of {', '.join(FORMATS)}")
    if request.mode not in MODES:
        raise ExportError(f"unknown export mode {request.mode!r}: choose one of {MODES}")
    if request.mode == "since" and request.since is None:
        raise ExportError("--since needs a batch number")
    if request.out is not None:
        out = request.out.expanduser()
        if out.exists():
            raise ExportError(f"{out} exists (an earlier batch file is evidence of what was "
                              "sent): choose a new --out")
        if not out.parent.is_dir():
            raise ExportError(f"directory {out.parent} does not exist: create it or choose "
                              "another --out")
    return export_format


async def export_batch(session: AsyncSession, request: ExportRequest) -> ExportResult:
    """Write one batch file and its manifest and record the batch, all or nothing.

    Commits the session's transaction; on any failure nothing is recorded and no file is left.
    """
    export_format = check_request(request)
    identifiers = await select_identifiers(session, request, export_format)
    created_at = datetime.now(UTC)
    batch = ExportBatch(format=export_format.name, mode=request.mode,
                        since_batch=request.since if request.mode == "since" else None,
                        items_count=len(identifiers), path="", created_by=request.user,
                        created_at=created_at)
    session.add(batch)
    await session.flush()
    header = BatchHeader(number=batch.id, format=export_format.name, created_at=created_at,
                         created_by=request.user, decision_org=request.decision_org,
                         rpz_origin=request.rpz_origin)
    counts = dict(Counter(i.type for i in identifiers))
    written: list[Path] = []
    try:
        path = _target(request, export_format, batch.id)
        manifest = manifest_path(path)
        batch.sha256, batch.size = _write(path, export_format, identifiers, header)
        written.append(path)
        batch.path = str(path)
        manifest.write_text(json.dumps(_manifest(batch, path, counts), indent=2) + "\n",
                            encoding="utf-8")
        written.append(manifest)
        session.add_all(ExportItem(batch_id=batch.id, format=export_format.name,
                                   item_type=i.type, value=i.value,
                                   site_id=i.site_ids[0] if i.site_ids else None)
                        for i in identifiers)
        await record_event(session, "exported", request.user, "export_batch", batch.id, {
            "format": export_format.name, "file": path.name, "sha256": batch.sha256,
            "items": len(identifiers), "mode": request.mode,
            "sites": sorted({site for i in identifiers for site in i.sites}),
        })
        await session.commit()
    except BaseException:
        await session.rollback()
        for leftover in written:
            leftover.unlink(missing_ok=True)
        raise
    return ExportResult(batch=batch, path=path, manifest_path=manifest, counts=counts)


async def list_batches(session: AsyncSession, limit: int | None = None) -> list[ExportBatch]:
    query = select(ExportBatch).order_by(ExportBatch.id.desc())
    if limit is not None:
        query = query.limit(limit)
    return list((await session.scalars(query)).all())


def batch_json(batch: ExportBatch) -> dict[str, Any]:
    """The JSON shape of a batch, shared by ``trawler export --list`` and ``/exports.json``."""
    return {
        "batch": batch.id,
        "format": batch.format,
        "mode": batch.mode,
        "since_batch": batch.since_batch,
        "items": batch.items_count,
        "file": Path(batch.path).name,
        "sha256": batch.sha256,
        "size": batch.size,
        "created_by": batch.created_by,
        "created_at": as_utc(batch.created_at).isoformat(timespec="seconds"),
    }
