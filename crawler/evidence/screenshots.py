"""Full-page screenshots of captured pages, from headless Chromium in a worker thread of its own.

The worker never stalls the crawl: jobs are queued and answered through futures. It renders the
*archived* response (read back from the WARC) with every other request blocked, so what is shown
is what was captured and nothing reaches the network; in ``live`` mode it loads the page again
through the crawl's proxy instead (subresources included), and without a proxy it falls back to
the archive. JavaScript is off unless the job allows it, so a hostile page's scripts never run.
Debian's Chromium is used; no browser is ever downloaded.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from warcio.archiveiterator import ArchiveIterator

logger = logging.getLogger(__name__)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync",
                 # Chromium's own services (updates, autofill, Google sign-in) stay quiet too.
                 "--disable-features=AutofillServerCommunication,OptimizationHints,MediaRouter,"
                 "Translate,OptimizationGuideModelDownloading,CertificateTransparencyComponentUpdater",
                 "--disable-domain-reliability", "--disable-client-side-phishing-detection",
                 "--no-pings", "--disable-default-apps", "--disable-breakpad",
                 "--component-updater=disable"]
# Every request the browser would make on its own goes to a closed local port.
_NOWHERE_PROXY = {"server": "http://127.0.0.1:9"}


class ScreenshotError(Exception):
    """A page could not be rendered; the message says why."""


@dataclass(frozen=True)
class ScreenshotJob:
    """Where the archived response lies, and how the page was reached when it was fetched."""

    url: str
    warc_path: Path
    offset: int
    length: int
    proxy: str | None = None  # for live mode: the route's proxy (HTTP or SOCKS5)


@dataclass(frozen=True)
class ScreenshotResult:
    png: bytes | None
    error: str | None
    attempts: int
    taken_at: datetime


def archived_response(path: Path, offset: int, length: int) -> tuple[int, str, bytes]:
    """(status, content type, body) of the response record within a capture's bytes."""
    with path.open("rb") as fh:
        fh.seek(offset)
        data = fh.read(length)
    for record in ArchiveIterator(io.BytesIO(data)):
        if record.rec_type == "response":
            headers = record.http_headers
            status = int(headers.get_statuscode() or 200)
            content_type = headers.get_header("Content-Type") or "text/html"
            return status, content_type, record.content_stream().read()
    raise ScreenshotError(f"no response record at {path.name}:{offset}")


def _resolve(future: concurrent.futures.Future[ScreenshotResult],
             result: ScreenshotResult) -> None:
    if not future.done():  # the waiter may have given up (crawl closing)
        future.set_result(result)


def _browser_proxy(proxy: str) -> dict[str, str]:
    # Chromium resolves names through a SOCKS5 proxy itself: socks5h is socks5 there.
    return {"server": proxy.replace("socks5h://", "socks5://", 1)}


class ScreenshotWorker:
    """Headless Chromium on its own event loop and thread; ``submit`` returns a future."""

    def __init__(self, *, javascript: bool = False, timeout: float = 30.0, live: bool = False,
                 parallel: int = 2, executable: str = CHROMIUM,
                 viewport: tuple[int, int] = (1280, 900),
                 browser_proxy: str | None = None) -> None:
        """``browser_proxy`` is where requests not covered by a job's own route would go: by
        default a closed local port, so nothing leaks even if a request slipped through."""
        self.javascript = javascript
        self.timeout = timeout
        self.live = live
        self.parallel = parallel
        self.executable = executable
        self.viewport = viewport
        self.browser_proxy = _browser_proxy(browser_proxy) if browser_proxy else _NOWHERE_PROXY
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[tuple[ScreenshotJob, concurrent.futures.Future[Any]] | None]
        self._thread: threading.Thread | None = None
        self._started = threading.Event()

    def start(self) -> None:
        """Start the worker thread; Chromium launches there, without blocking the caller."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="screenshots", daemon=True)
        self._thread.start()
        self._started.wait()

    def submit(self, job: ScreenshotJob) -> concurrent.futures.Future[ScreenshotResult]:
        self.start()
        future: concurrent.futures.Future[ScreenshotResult] = concurrent.futures.Future()
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._queue.put_nowait, (job, future))
        return future

    def close(self, timeout: float | None = None) -> None:
        """Finish queued jobs (up to ``timeout`` seconds), then stop Chromium and the thread."""
        if self._thread is None or self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._queue.put_nowait, None)
        self._thread.join(timeout)
        self._thread = None

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._queue = asyncio.Queue()
        self._started.set()
        try:
            self._loop.run_until_complete(self._main())
        finally:
            self._loop.close()

    async def _main(self) -> None:
        from playwright.async_api import async_playwright

        launch_error: str | None = None
        async with async_playwright() as playwright:
            browser = None
            try:
                browser = await playwright.chromium.launch(
                    executable_path=self.executable, args=CHROMIUM_ARGS, proxy=self.browser_proxy,
                    timeout=max(60.0, self.timeout) * 1000)
            except Exception as exc:  # reported with every job
                launch_error = f"Chromium did not start ({self.executable}): {exc}".splitlines()[0]
                logger.error("screenshots: %s", launch_error)
            gate = asyncio.Semaphore(self.parallel)
            running: set[asyncio.Task[None]] = set()
            while (entry := await self._queue.get()) is not None:
                job, future = entry
                if browser is None:
                    _resolve(future, ScreenshotResult(None, launch_error, 0, datetime.now(UTC)))
                    continue
                await gate.acquire()
                task = asyncio.create_task(self._serve(browser, job, future, gate))
                running.add(task)
                task.add_done_callback(running.discard)
            await asyncio.gather(*running, return_exceptions=True)
            if browser is not None:
                await browser.close()

    async def _serve(self, browser: Any, job: ScreenshotJob,
                     future: concurrent.futures.Future[ScreenshotResult],
                     gate: asyncio.Semaphore) -> None:
        try:
            error = "not attempted"
            for attempt in (1, 2):  # a failed or timed-out screenshot is retried once
                try:
                    png = await asyncio.wait_for(self._render(browser, job), self.timeout)
                    _resolve(future, ScreenshotResult(png, None, attempt, datetime.now(UTC)))
                    return
                except TimeoutError:
                    error = f"timed out after {self.timeout:g}s"
                except Exception as exc:  # the reason is recorded
                    error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                logger.info("screenshot of %s failed (attempt %d): %s", job.url, attempt, error)
            _resolve(future, ScreenshotResult(None, error, 2, datetime.now(UTC)))
        finally:
            gate.release()

    async def _render(self, browser: Any, job: ScreenshotJob) -> bytes:
        live = self.live and job.proxy is not None
        context = await browser.new_context(
            java_script_enabled=self.javascript, service_workers="block",
            viewport={"width": self.viewport[0], "height": self.viewport[1]},
            proxy=_browser_proxy(job.proxy) if live and job.proxy else None)
        try:
            page = await context.new_page()
            page.set_default_timeout(self.timeout * 1000)
            if not live:
                status, content_type, body = await asyncio.to_thread(
                    archived_response, job.warc_path, job.offset, job.length)
                await self._serve_archive(page, status, content_type, body)
            await page.goto(job.url, wait_until="load")
            return await page.screenshot(full_page=True, type="png")
        finally:
            await context.close()

    @staticmethod
    async def _serve_archive(page: Any, status: int, content_type: str, body: bytes) -> None:
        """Answer the page's first navigation from the archive and refuse every other request."""
        served = False

        async def route(request_route: Any) -> None:
            nonlocal served
            request = request_route.request
            if not served and request.is_navigation_request() and request.frame == page.main_frame:
                served = True
                await request_route.fulfill(status=status, body=body,
                                            headers={"content-type": content_type})
            else:
                await request_route.abort("blockedbyclient")

        await page.route("**/*", route)
