"""The screenshot worker with Debian's real Chromium: archived pages render with every request
blocked, a hostile page's scripts never run with JavaScript off, failures are retried once."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from crawler.evidence.screenshots import CHROMIUM, ScreenshotJob, ScreenshotWorker
from crawler.evidence.warc import CaptureInfo, WarcFiles
from crawler.items import PageItem

pytestmark = pytest.mark.skipif(shutil.which(CHROMIUM) is None,
                                reason="Debian's chromium is not installed")

HOSTILE = Path(__file__).parent / "web" / "sites" / "bazar-grodno.example" / "tovary.html"
HOSTILE_URL = "http://bazar-grodno.example/tovary.html"
BROWSER_SERVICES = (".google.com", ".googleapis.com", ".gstatic.com")


def archived(tmp_path: Path, url: str, body: bytes) -> ScreenshotJob:
    files = WarcFiles(tmp_path, "shots", 10**9, {"software": "trawler/test"})
    item = PageItem(url=url, site="bazar-grodno.example", status=200, body=body,
                    headers={"Content-Type": "text/html; charset=utf-8"}, page_id=1)
    _, appended = files.append_capture(item, CaptureInfo("drugs-verdict", 10**6, 0, "0" * 64))
    files.close()
    return ScreenshotJob(url, tmp_path / appended.name, appended.offset, appended.length)


async def shoot(worker: ScreenshotWorker, job: ScreenshotJob):
    try:
        return await asyncio.wrap_future(worker.submit(job))
    finally:
        await asyncio.to_thread(worker.close, 30)


def hosts_requested(web, since: int) -> set[str]:
    return {r.host for r in web.requests[since:]}


async def test_archived_page_renders_without_any_request(tmp_path: Path, web) -> None:
    """Even with the browser's proxy pointed at the fictional web, nothing is fetched."""
    job = archived(tmp_path, HOSTILE_URL, HOSTILE.read_bytes())
    before = len(web.requests)
    result = await shoot(ScreenshotWorker(browser_proxy=web.proxy_url, timeout=30), job)
    assert result.error is None, result.error
    assert result.png is not None and result.png.startswith(b"\x89PNG\r\n\x1a\n")
    assert result.attempts == 1
    # Only Chromium's own service calls (updates, sign-in) went out, none from the page;
    # in a crawl they go to the closed port the worker uses as its browser proxy.
    page_requests = [r for r in web.requests[before:] if not r.host.endswith(BROWSER_SERVICES)]
    assert page_requests == []


async def test_hostile_page_scripts_do_not_run_with_javascript_off(web) -> None:
    """Live through the proxy: the page's document.write would fetch from evil.invalid."""
    job = ScreenshotJob(HOSTILE_URL, Path("/nonexistent"), 0, 0, proxy=web.proxy_url)
    before = len(web.requests)
    result = await shoot(ScreenshotWorker(live=True, javascript=False, timeout=30), job)
    assert result.png is not None, result.error
    seen = hosts_requested(web, before)
    assert "bazar-grodno.example" in seen and "evil.invalid" not in seen

    before = len(web.requests)  # the same page with JavaScript allowed does run its script
    result = await shoot(ScreenshotWorker(live=True, javascript=True, timeout=30), job)
    assert result.png is not None, result.error
    assert "evil.invalid" in hosts_requested(web, before)


async def test_failed_screenshot_is_retried_once_and_reported(tmp_path: Path) -> None:
    job = ScreenshotJob("http://gone.example/", tmp_path / "missing.warc.gz", 0, 10)
    result = await shoot(ScreenshotWorker(timeout=10), job)
    assert result.png is None and result.attempts == 2
    assert "FileNotFoundError" in (result.error or "")


async def test_missing_browser_is_reported_per_job(tmp_path: Path) -> None:
    job = archived(tmp_path, HOSTILE_URL, b"<html>x</html>")
    result = await shoot(ScreenshotWorker(executable="/nonexistent/chromium", timeout=10), job)
    assert result.png is None and "Chromium did not start" in (result.error or "")
