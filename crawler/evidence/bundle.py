"""One evidence package per site: a WACZ (zip) a court or another unit can check on its own.

It holds ``archive/<site>.warc.gz`` (the site's records copied byte for byte from the crawl's
WARCs, each file's ``warcinfo`` first, so every digest still holds), the screenshots as PNG
files, ``pages/pages.jsonl``, a CDXJ index, the verdicts, entities, reviews and the site's
custody events, and ``datapackage.json``: the manifest with the SHA-256 of every file (also as
``manifest-sha256.txt`` for ``sha256sum -c``). Source bytes are checked against the digests
recorded at capture time while they are copied; a mismatch stops the bundle.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from warcio.archiveiterator import ArchiveIterator

from crawler import __version__
from crawler.evidence.custody import custody_head, record_event
from crawler.evidence.verify import EvidenceBroken
from crawler.evidence.warc import verdict_record
from crawler.store import Database
from crawler.store.models import (
    Capture,
    CustodyEvent,
    Entity,
    Page,
    PageEntity,
    Review,
    Screenshot,
    Site,
    Verdict,
    WarcFile,
)
from crawler.store.queries import site_summary

WACZ_VERSION = "1.1.1"


@dataclass
class _Piece:
    """A byte range of a source WARC to copy, with the digest it must have (if recorded)."""

    file: WarcFile
    offset: int
    length: int
    sha256: str | None


@dataclass
class BundleResult:
    path: Path
    sha256: str
    captures: int
    screenshots: int
    files: dict[str, str] = field(default_factory=dict)  # path in the bundle -> sha256


def surt(url: str) -> str:
    """The SURT form of a URL used as the CDXJ sort key (``example,shop)/path?q``)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().removeprefix("www.")
    key = ",".join(reversed(host.split("."))) + ")" + (parts.path or "/").lower()
    return key + (f"?{parts.query}" if parts.query else "")


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


def _jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False, sort_keys=True, default=str) + "\n"
                   for r in rows).encode("utf-8")


class _HashingWriter(io.RawIOBase):
    """Counts and hashes what is written into a zip member."""

    def __init__(self, target: Any) -> None:
        self.target = target
        self.digest = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self.target.write(data)


def _read_range(path: Path, offset: int, length: int) -> bytes:
    with path.open("rb") as fh:
        fh.seek(offset)
        return fh.read(length)


def _records(data: bytes) -> Iterator[tuple[int, int, Any, bytes]]:
    """(offset, length, record, content) of each record in whole gzip members."""
    stream = ArchiveIterator(io.BytesIO(data))
    pending: tuple[int, Any, bytes] | None = None
    for record in stream:
        content = record.content_stream().read() if record.rec_type == "resource" else b""
        offset = stream.get_record_offset()  # only after reading: it skips an unread record
        if pending is not None:
            yield pending[0], offset - pending[0], pending[1], pending[2]
        pending = (offset, record, content)
    if pending is not None:
        yield pending[0], len(data) - pending[0], pending[1], pending[2]


async def _site(session: AsyncSession, name: str) -> Site:
    site = await session.scalar(select(Site).where(Site.name == name.strip().lower()))
    if site is None:
        raise LookupError(f"no site named {name!r} in the database; `trawler sites` lists them")
    return site


async def bundle_site(db: Database, warc_dir: Path, site_name: str, out: Path,
                      actor: str) -> BundleResult:
    """Write the site's package to ``out`` and record a ``bundled`` custody event."""
    async with db.session() as session:
        site = await _site(session, site_name)
        captures = list((await session.scalars(
            select(Capture).where(Capture.site_id == site.id)
            .order_by(Capture.warc_file_id, Capture.offset))).all())
        if not captures:
            raise LookupError(f"site {site.name} has no captured evidence (only pages with a "
                              "drugs verdict and pages of flagged sites are captured)")
        shots = list((await session.scalars(
            select(Screenshot).where(Screenshot.capture_id.in_([c.id for c in captures]))
            .order_by(Screenshot.id))).all())
        files = {f.id: f for f in (await session.scalars(select(WarcFile).where(
            WarcFile.id.in_({c.warc_file_id for c in captures}
                            | {s.warc_file_id for s in shots if s.warc_file_id})))).all()}
        documents = await _documents(session, site, captures, shots)
        anchor = await custody_head(session)

    pieces: list[_Piece] = []
    for file_id in sorted(files):
        warc = files[file_id]
        pieces.append(_Piece(warc, 0, warc.warcinfo_length, None))
        ranges = [(c.offset, c.length, c.sha256) for c in captures if c.warc_file_id == file_id]
        ranges += [(s.offset, s.length, s.sha256) for s in shots
                   if s.warc_file_id == file_id and s.offset is not None]
        pieces += [_Piece(warc, o, n, d) for o, n, d in sorted(ranges)]

    safe = re.sub(r"[^A-Za-z0-9._-]", "_", site.name)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    manifest: dict[str, tuple[str, int]] = {}
    pages: list[dict[str, Any]] = [{"format": "json-pages-1.0", "id": "pages",
                                    "title": f"trawler evidence: {site.name}"}]
    cdxj: list[str] = []
    screenshots = 0
    try:
        with (tempfile.TemporaryDirectory(prefix="trawler-bundle-") as spool_dir,
              zipfile.ZipFile(partial, "w", allowZip64=True) as bundle):
            spool = Path(spool_dir)
            warc_name = f"archive/{safe}.warc.gz"
            with bundle.open(zipfile.ZipInfo(warc_name, _zip_time()), "w",
                             force_zip64=True) as member:
                writer = _HashingWriter(member)
                for piece in pieces:
                    data = _read_range(warc_dir / piece.file.name, piece.offset, piece.length)
                    if len(data) != piece.length or (
                            piece.sha256 and hashlib.sha256(data).hexdigest() != piece.sha256):
                        raise EvidenceBroken(
                            f"{piece.file.name} offset {piece.offset}: the bytes differ from "
                            "those written; run `trawler evidence verify` and do not bundle")
                    base = writer.size
                    writer.write(data)
                    for offset, length, record, content in _records(data):
                        entry = _index_entry(record, base + offset, length, warc_name)
                        if entry:
                            cdxj.append(entry)
                        if record.rec_type == "resource" and content:
                            screenshots += 1
                            target = record.rec_headers.get_header("WARC-Target-URI")
                            png_name = f"screenshots/{screenshots:04d}.png"
                            # the zip takes one member at a time: PNGs wait in a spool dir
                            (spool / f"{screenshots:04d}.png").write_bytes(content)
                            pages.append({"id": f"screenshot-{screenshots}", "url": target,
                                          "ts": record.rec_headers.get_header("WARC-Date"),
                                          "title": f"screenshot: {png_name}"})
            manifest[warc_name] = (writer.digest.hexdigest(), writer.size)
            for png in sorted(spool.iterdir()):
                _add(bundle, manifest, f"screenshots/{png.name}", png.read_bytes())
            pages += documents.pop("pages")
            _add(bundle, manifest, "pages/pages.jsonl", _jsonl(pages))
            _add(bundle, manifest, "indexes/index.cdxj", "".join(sorted(cdxj)).encode())
            for name, rows in documents.items():
                _add(bundle, manifest, name, _jsonl(rows) if name.endswith(".jsonl")
                     else json.dumps(rows, ensure_ascii=False, indent=1, sort_keys=True,
                                     default=str).encode("utf-8"))
            _add(bundle, manifest, "manifest-sha256.txt", "".join(
                f"{digest}  {name}\n" for name, (digest, _) in sorted(manifest.items())).encode())
            package = json.dumps({
                "profile": "data-package", "wacz_version": WACZ_VERSION,
                "title": f"trawler evidence: {site.name}",
                "created": datetime.now(UTC).isoformat(), "software": f"trawler {__version__}",
                "site": site.name, "bundled_by": actor,
                "custody_anchor": {"count": anchor[0], "head": anchor[1]},
                "resources": [{"name": Path(name).name, "path": name, "hash": f"sha256:{d}",
                               "bytes": size} for name, (d, size) in sorted(manifest.items())],
            }, indent=1, sort_keys=True).encode("utf-8")
            bundle.writestr(zipfile.ZipInfo("datapackage.json", _zip_time()), package,
                            zipfile.ZIP_DEFLATED)
            bundle.writestr(zipfile.ZipInfo("datapackage-digest.json", _zip_time()),
                            json.dumps({"path": "datapackage.json", "hash": "sha256:"
                                        + hashlib.sha256(package).hexdigest()}),
                            zipfile.ZIP_DEFLATED)
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)

    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    async with db.session() as session, session.begin():
        await record_event(session, "bundled", actor, "site", site.name, {
            "file": out.name, "sha256": digest, "captures": len(captures),
            "screenshots": screenshots})
    return BundleResult(out, digest, len(captures), screenshots,
                        {name: d for name, (d, _) in manifest.items()})


def _zip_time() -> tuple[int, int, int, int, int, int]:
    return datetime.now(UTC).timetuple()[:6]  # type: ignore[return-value]


def _add(bundle: zipfile.ZipFile, manifest: dict[str, tuple[str, int]], name: str,
         data: bytes) -> None:
    bundle.writestr(zipfile.ZipInfo(name, _zip_time()), data, zipfile.ZIP_DEFLATED)
    manifest[name] = (hashlib.sha256(data).hexdigest(), len(data))


def _index_entry(record: Any, offset: int, length: int, filename: str) -> str | None:
    if record.rec_type not in ("response", "resource"):
        return None
    headers = record.rec_headers
    url = headers.get_header("WARC-Target-URI") or ""
    stamp = re.sub(r"\D", "", headers.get_header("WARC-Date") or "")[:14]
    fields: dict[str, Any] = {"url": url, "digest": headers.get_header("WARC-Payload-Digest"),
                              "length": str(length), "offset": str(offset),
                              "filename": filename.removeprefix("archive/")}
    if record.http_headers is not None:
        fields["status"] = record.http_headers.get_statuscode()
        fields["mime"] = (record.http_headers.get_header("Content-Type") or "").split(";")[0]
    else:
        fields["mime"] = headers.get_header("Content-Type")
    key = surt(url) if url.startswith("http") else url
    return f"{key} {stamp} {json.dumps(fields, sort_keys=True)}\n"


async def _documents(session: AsyncSession, site: Site, captures: list[Capture],
                     shots: list[Screenshot]) -> dict[str, Any]:
    """The database side of the package: verdicts, entities, reviews, custody events, pages."""
    page_ids = sorted({c.page_id for c in captures})
    pages = {p.id: p for p in (await session.scalars(
        select(Page).where(Page.id.in_(page_ids)))).all()}
    verdicts = {v.page_id: v for v in (await session.scalars(
        select(Verdict).where(Verdict.page_id.in_(page_ids)))).all()}
    verdict_rows = [{
        "page_id": page_id, "url": pages[page_id].url,
        "fetched_at": _iso(pages[page_id].fetched_at),
        "verdict": verdict_record(verdicts.get(page_id)),
        "captures": [{"id": c.id, "reason": c.reason, "response_record": c.response_id,
                      "metadata_record": c.metadata_id, "payload_digest": c.payload_digest,
                      "truncated": c.truncated, "fetched_at": _iso(c.fetched_at)}
                     for c in captures if c.page_id == page_id],
    } for page_id in page_ids]
    entity_rows = (await session.execute(
        select(Entity.kind, Entity.value, Entity.detail, Page.id, Page.url, PageEntity.context)
        .join(PageEntity, PageEntity.entity_id == Entity.id)
        .join(Page, Page.id == PageEntity.page_id)
        .where(Page.site_id == site.id).order_by(Entity.kind, Entity.value, Page.id))).all()
    entities: dict[tuple[str, str], dict[str, Any]] = {}
    for kind, value, detail, page_id, url, context in entity_rows:
        entry = entities.setdefault((kind, value), {"kind": kind, "value": value,
                                                    "detail": detail, "seen_on": []})
        entry["seen_on"].append({"page_id": page_id, "url": url, "context": context})
    reviews = [{"id": r.id, "decision": r.decision, "reason": r.reason, "note": r.note,
                "user": r.user, "created_at": _iso(r.created_at)}
               for r in (await session.scalars(
                   select(Review).where(Review.site_id == site.id).order_by(Review.id))).all()]
    objects = [
        (CustodyEvent.object_type == "site")
        & CustodyEvent.object_id.in_([site.name, str(site.id)]),
        (CustodyEvent.object_type == "page") & CustodyEvent.object_id.in_(
            [str(i) for i in page_ids]),
        (CustodyEvent.object_type == "screenshot") & CustodyEvent.object_id.in_(
            [str(s.id) for s in shots]),
        (CustodyEvent.object_type == "review") & CustodyEvent.object_id.in_(
            [str(r["id"]) for r in reviews]),
    ]
    custody = [{"id": e.id, "action": e.action, "actor": e.actor, "object_type": e.object_type,
                "object_id": e.object_id, "detail": e.detail, "created_at": _iso(e.created_at),
                "prev_hash": e.prev_hash, "hash": e.hash}
               for e in (await session.scalars(
                   select(CustodyEvent).where(or_(*objects)).order_by(CustodyEvent.id))).all()]
    return {
        "pages": [{"id": f"page-{page_id}", "url": pages[page_id].url,
                   "ts": _iso(pages[page_id].fetched_at), "title": pages[page_id].title or ""}
                  for page_id in page_ids],
        "evidence/site.json": site_summary(site),
        "evidence/verdicts.jsonl": verdict_rows,
        "evidence/entities.json": list(entities.values()),
        "evidence/reviews.json": reviews,
        "evidence/custody.jsonl": custody,
    }
