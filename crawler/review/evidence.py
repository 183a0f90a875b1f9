"""The captured evidence the review app shows: a page's screenshot and its archived HTML.

Both live in the WARC archive written by ``crawler.evidence``; the app reads them through an
``EvidenceReader`` so that tests (and other stores) can hand in their own.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Protocol

from crawler.evidence import read_response_body, read_screenshot


class EvidenceReader(Protocol):
    async def screenshot(self, url: str) -> bytes | None: ...

    async def archived_html(self, url: str) -> bytes | None: ...


class ArchiveReader:
    """Reads the newest capture of a URL from the WARC files under ``warc_dir``."""

    def __init__(self, warc_dir: Path) -> None:
        self.warc_dir = warc_dir

    async def screenshot(self, url: str) -> bytes | None:
        if not self.warc_dir.exists():
            return None
        return await asyncio.to_thread(read_screenshot, self.warc_dir, url)

    async def archived_html(self, url: str) -> bytes | None:
        if not self.warc_dir.exists():
            return None
        return await asyncio.to_thread(read_response_body, self.warc_dir, url)
