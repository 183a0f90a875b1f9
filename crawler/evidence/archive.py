"""Reading captured evidence back by URL: a page's archived body and its screenshot.

Used by the review app (``crawler.review.evidence.ArchiveReader``). Files are streamed newest
first and the latest matching record wins; nothing is loaded beyond the record returned.
"""

from __future__ import annotations

from pathlib import Path

from warcio.archiveiterator import ArchiveIterator


def _latest(warc_dir: Path, record_type: str, target: str) -> bytes | None:
    files = sorted(warc_dir.glob("*.warc.gz"), key=lambda p: (p.stat().st_mtime, p.name),
                   reverse=True)
    for path in files:
        found: bytes | None = None
        with path.open("rb") as fh:
            for record in ArchiveIterator(fh):
                if (record.rec_type == record_type
                        and record.rec_headers.get_header("WARC-Target-URI") == target):
                    found = record.content_stream().read()
        if found is not None:
            return found
    return None


def read_response_body(warc_dir: Path, url: str) -> bytes | None:
    """The body of the latest archived response for ``url`` (as fetched, possibly truncated)."""
    return _latest(warc_dir, "response", url)


def read_screenshot(warc_dir: Path, url: str) -> bytes | None:
    """The PNG of the latest screenshot of ``url``, or None when there is none."""
    return _latest(warc_dir, "resource", f"urn:screenshot:{url}")
