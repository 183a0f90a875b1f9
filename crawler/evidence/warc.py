"""WARC 1.1 evidence files: building a page's records and appending them to rotating files.

Each capture is a request, a response and a metadata record (verdict, entities, custody
anchor), with SHA-256 block and payload digests (``sha256:<hex>``) that warcio keeps as given.
Records are built in memory, then appended to the file in one write and synced, so a file only
ever holds whole records: when the disk fills up the partial tail is cut off again and
``EvidenceStorageFull`` is raised with every earlier record intact.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from warcio.recordloader import ArcWarcRecord
from warcio.statusandheaders import StatusAndHeaders, StatusAndHeadersParser
from warcio.timeutils import datetime_to_iso_date
from warcio.warcwriter import WARCWriter

from crawler import __version__
from crawler.items import PageItem

WARC_VERSION = "1.1"
SOFTWARE = f"trawler/{__version__}"
# aiohttp hands over decoded bodies, so these headers would no longer describe the stored bytes.
_REWRITTEN_HEADERS = ("content-encoding", "transfer-encoding", "content-length")
_FULL_DISK = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


class EvidenceStorageFull(OSError):
    """The WARC directory has no room left; records written before are intact."""


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def warc_date(moment: datetime) -> str:
    return datetime_to_iso_date(moment.astimezone(UTC).replace(tzinfo=None), use_micros=True)


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, indent=1,
                      default=str).encode("utf-8")


def verdict_record(verdict: Any) -> dict[str, Any] | None:
    """The verdict as written into the metadata record (and compared by ``verify``)."""
    if verdict is None:
        return None
    return {"label": verdict.label, "score": float(verdict.score),
            "threshold": float(verdict.threshold), "model_version": verdict.model_version,
            "reasons": json.loads(json.dumps(list(verdict.reasons or []), default=float))}


@dataclass
class CaptureRecords:
    """A page's records, serialized: ``data`` is appended to a WARC file as it is."""

    data: bytes
    response_id: str
    metadata_id: str
    payload_digest: str


@dataclass
class Appended:
    """Where appended records landed: file name (relative), offset, length, SHA-256 of bytes."""

    name: str
    offset: int
    length: int
    sha256: str
    new_file: OpenedFile | None = None


@dataclass
class OpenedFile:
    name: str
    route: str
    warcinfo_id: str
    warcinfo_length: int


@dataclass
class ClosedFile:
    name: str
    size: int
    sha256: str


@dataclass
class CaptureInfo:
    """Facts about a capture that the page item does not carry."""

    reason: str  # drugs-verdict / flagged-site
    max_page_bytes: int
    custody_count: int
    custody_head: str
    job: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class RecordBuilder:
    """Builds gzip-compressed WARC 1.1 records with SHA-256 digests."""

    def __init__(self) -> None:
        self._buffer = io.BytesIO()
        self._writer = WARCWriter(self._buffer, gzip=True, warc_version=WARC_VERSION)

    def _take(self) -> bytes:
        data = self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate()
        return data

    def record(self, uri: str, record_type: str, block: bytes, content_type: str,
               headers: dict[str, str], http: StatusAndHeaders | None = None) -> tuple[
                   ArcWarcRecord, bytes]:
        """One serialized record; for HTTP records ``block`` is the payload after the headers."""
        warc_headers = dict(headers)
        warc_headers.setdefault("WARC-Record-ID", StatusAndHeadersParser.make_warc_id())
        if http is not None:
            http.compute_headers_buffer()
            warc_headers["WARC-Block-Digest"] = sha256_digest(http.headers_buff + block)
            warc_headers["WARC-Payload-Digest"] = sha256_digest(block)
        else:
            warc_headers["WARC-Block-Digest"] = sha256_digest(block)
            if record_type in ("resource", "metadata"):
                warc_headers["WARC-Payload-Digest"] = sha256_digest(block)
        warc_headers["Content-Type"] = content_type
        record = self._writer.create_warc_record(
            uri, record_type, payload=io.BytesIO(block), length=len(block),
            warc_headers_dict=warc_headers, http_headers=http)
        self._writer.write_record(record)
        return record, self._take()

    def warcinfo(self, filename: str, info: dict[str, str]) -> tuple[str, bytes]:
        body = "".join(f"{key}: {value}\r\n" for key, value in info.items() if value)
        record, data = self.record("", "warcinfo", body.encode("utf-8"),
                                   "application/warc-fields", {
                                       "WARC-Filename": filename,
                                       "WARC-Date": warc_date(datetime.now(UTC))})
        return record.rec_headers.get_header("WARC-Record-ID"), data

    def capture(self, item: PageItem, info: CaptureInfo, warcinfo_id: str) -> CaptureRecords:
        """Request, response and metadata records of one fetched page."""
        date = warc_date(item.fetched_at)
        common = {"WARC-Date": date, "WARC-Warcinfo-ID": warcinfo_id}
        response_headers, rewritten = response_http_headers(item)
        response_warc = dict(common)
        if item.ip_address:
            response_warc["WARC-IP-Address"] = item.ip_address
        if item.truncated:
            response_warc["WARC-Truncated"] = "length"
        response, response_data = self.record(
            item.url, "response", item.body, "application/http; msgtype=response",
            response_warc, response_headers)
        response_id = response.rec_headers.get_header("WARC-Record-ID")
        _, request_data = self.record(
            item.url, "request", b"", "application/http; msgtype=request",
            {**common, "WARC-Concurrent-To": response_id}, request_http_headers(item))
        metadata = metadata_document(item, info, rewritten)
        meta, meta_data = self.record(
            item.url, "metadata", _json(metadata), "application/json",
            {**common, "WARC-Concurrent-To": response_id})
        return CaptureRecords(
            data=request_data + response_data + meta_data, response_id=response_id,
            metadata_id=meta.rec_headers.get_header("WARC-Record-ID"),
            payload_digest=response.rec_headers.get_header("WARC-Payload-Digest"))

    def screenshot(self, url: str, png: bytes, response_id: str, warcinfo_id: str,
                   taken_at: datetime) -> tuple[str, bytes]:
        """A ``resource`` record holding a full-page PNG of ``url``."""
        record, data = self.record(f"urn:screenshot:{url}", "resource", png, "image/png", {
            "WARC-Date": warc_date(taken_at), "WARC-Warcinfo-ID": warcinfo_id,
            "WARC-Concurrent-To": response_id})
        return record.rec_headers.get_header("WARC-Record-ID"), data


def response_http_headers(item: PageItem) -> tuple[StatusAndHeaders, dict[str, str]]:
    """The response's status line and headers, describing the body as stored."""
    status = item.status or 0
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    kept: list[tuple[str, str]] = []
    rewritten: dict[str, str] = {}
    for name, value in item.headers.items():
        if name.lower() in _REWRITTEN_HEADERS:
            rewritten[name] = value
        else:
            kept.append((name, value))
    kept.append(("Content-Length", str(len(item.body))))
    return StatusAndHeaders(f"{status} {reason}", kept, protocol="HTTP/1.1"), rewritten


def request_http_headers(item: PageItem) -> StatusAndHeaders:
    parts = urlsplit(item.url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = [(k, v) for k, v in item.request_headers.items() if k.lower() != "host"]
    return StatusAndHeaders(f"GET {target} HTTP/1.1", [("Host", parts.netloc), *headers],
                            protocol="", is_http_request=True)


def metadata_document(item: PageItem, info: CaptureInfo,
                      rewritten: dict[str, str]) -> dict[str, Any]:
    """What the metadata record says about a capture: why, the verdict, the entities."""
    return {
        "software": SOFTWARE,
        "page_id": item.page_id,
        "site": item.site,
        "url": item.url,
        "job": info.job,
        "fetched_at": item.fetched_at.astimezone(UTC).isoformat(),
        "route": item.route,
        "ip_address": item.ip_address,
        "status": item.status,
        "capture_reason": info.reason,
        "truncated": {"reason": "length", "limit_bytes": info.max_page_bytes,
                      "stored_bytes": len(item.body),
                      "note": "body cut at the crawl's max_page_bytes"} if item.truncated else None,
        "headers_rewritten": {
            "original": rewritten,
            "note": "the body is stored decoded; Content-Length is its stored size"
        } if rewritten else None,
        "verdict": verdict_record(item.verdict),
        "entities": [{"kind": e.kind, "value": e.value, "context": e.context,
                      "detail": dict(e.detail or {})} for e in item.entities],
        "custody_anchor": {"count": info.custody_count, "head": info.custody_head},
        **info.extra,
    }


class WarcFiles:
    """The WARC files of one crawl: one open file per route, rotated past ``max_bytes``.

    Not thread-safe: the evidence pipeline calls it from a single writer thread.
    """

    def __init__(self, directory: Path, prefix: str, max_bytes: int,
                 info: dict[str, str]) -> None:
        self.directory = directory
        self.prefix = prefix
        self.max_bytes = max_bytes
        self.info = info
        self._builder = RecordBuilder()
        self._open: dict[str, tuple[OpenedFile, int]] = {}  # route -> (file, fd)
        self._serial = 0

    def _new_file(self, route: str) -> tuple[OpenedFile, int]:
        self.directory.mkdir(parents=True, exist_ok=True)
        while True:
            self._serial += 1
            stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S%f")
            name = f"{self.prefix}-{stamp}-{self._serial:05d}-{route}.warc.gz"
            try:
                fd = os.open(self.directory / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                break
            except FileExistsError:
                continue
        warcinfo_id, data = self._builder.warcinfo(name, {**self.info, "route": route})
        opened = OpenedFile(name, route, warcinfo_id, len(data))
        try:
            self._write_all(fd, data, 0, self.directory / name)
        except BaseException:
            os.close(fd)
            (self.directory / name).unlink(missing_ok=True)
            raise
        self._open[route] = (opened, fd)
        return opened, fd

    def _current(self, route: str) -> tuple[OpenedFile, int, OpenedFile | None]:
        """The route's open file and descriptor, and the file again when it was just opened."""
        if route in self._open:
            return *self._open[route], None
        opened, fd = self._new_file(route)
        return opened, fd, opened

    @staticmethod
    def _write_all(fd: int, data: bytes, offset: int, path: Path) -> None:
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        except OSError as exc:
            os.ftruncate(fd, offset)  # cut the partial record; what came before stays whole
            if exc.errno in _FULL_DISK:
                raise EvidenceStorageFull(exc.errno, f"no space left for evidence in {path.parent} "
                                          f"(writing {path.name}): {exc.strerror}") from exc
            raise

    def _append(self, route: str, build: Callable[[str], bytes]) -> Appended:
        opened, fd, new_file = self._current(route)
        data = build(opened.warcinfo_id)
        offset = os.lseek(fd, 0, os.SEEK_END)
        self._write_all(fd, data, offset, self.directory / opened.name)
        return Appended(opened.name, offset, len(data), hashlib.sha256(data).hexdigest(),
                        new_file)

    def append_capture(self, item: PageItem, info: CaptureInfo) -> tuple[CaptureRecords, Appended]:
        """Append a page's request, response and metadata records, synced to disk."""
        built: list[CaptureRecords] = []

        def build(warcinfo_id: str) -> bytes:
            built.append(self._builder.capture(item, info, warcinfo_id))
            return built[0].data

        appended = self._append(item.route, build)
        return built[0], appended

    def append_screenshot(self, route: str, url: str, png: bytes, response_id: str,
                          taken_at: datetime) -> tuple[str, Appended]:
        """Append a screenshot ``resource`` record; returns its record id and place."""
        ids: list[str] = []

        def build(warcinfo_id: str) -> bytes:
            record_id, data = self._builder.screenshot(url, png, response_id, warcinfo_id,
                                                       taken_at)
            ids.append(record_id)
            return data

        appended = self._append(route, build)
        return ids[0], appended

    def rotate_if_full(self, route: str) -> ClosedFile | None:
        opened = self._open.get(route)
        if opened is None or os.lseek(opened[1], 0, os.SEEK_END) < self.max_bytes:
            return None
        return self._close(route)

    def _close(self, route: str) -> ClosedFile:
        opened, fd = self._open.pop(route)
        os.close(fd)
        path = self.directory / opened.name
        digest = hashlib.sha256()
        size = 0
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
                size += len(chunk)
        return ClosedFile(opened.name, size, digest.hexdigest())

    def close(self) -> list[ClosedFile]:
        return [self._close(route) for route in list(self._open)]
