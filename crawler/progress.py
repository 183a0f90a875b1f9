"""The live progress display of a crawl in the terminal (rich), and the same numbers as a table.

``LiveProgress`` is a Scrapy extension the runner adds when a terminal watches; it redraws from
the job heartbeat's numbers (``trawler/progress``) and this run's counters. ``progress_table``
renders a ``job_summary`` for ``trawler jobs show``.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text
from scrapy import signals
from scrapy.crawler import Crawler

from crawler.heartbeat import in_flight, run_numbers

REFRESH_S = 0.5


def progress_table(name: str, status: str, stats: dict[str, Any]) -> Table:
    """Pages, sites, rate and errors of a job, as one small table."""
    title = f"job {name}: {status}"
    if status == "running" and stats.get("closing"):
        title += f" (closing as {stats['closing']}: finishing in-flight pages)"
    table = Table(title=title, show_header=False, title_justify="left",
                  box=None, padding=(0, 2))
    table.add_column(style="bold")
    table.add_column(justify="right")
    errors = stats.get("errors") or {}
    rows = [
        ("pages fetched", stats.get("pages_fetched", 0)),
        ("pages queued", stats.get("pages_queued", 0)),
        ("in flight", stats.get("in_flight", 0)),
        ("sites found", stats.get("sites_found", 0)),
        ("sites flagged", stats.get("sites_flagged", 0)),
        ("flagged pages", stats.get("flagged_pages", 0)),
        ("pages/s", f"{float(stats.get('pages_per_s') or 0):.1f}"),
        ("errors", sum(errors.values())),
    ]
    for label, value in rows:
        table.add_row(label, str(value))
    for kind, count in sorted(errors.items(), key=lambda kv: -kv[1]):
        table.add_row(Text(f"  {kind}", style="dim"), str(count))
    if stats.get("onion_skipped"):
        table.add_row(Text("onion links skipped (Tor down)", style="yellow"),
                      str(stats["onion_skipped"]))
    return table


class LiveProgress:
    def __init__(self, crawler: Crawler, name: str) -> None:
        self.crawler = crawler
        self.name = name
        self.console = Console(stderr=True)
        self.live: Live | None = None
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> LiveProgress:
        ext = cls(crawler, crawler.settings.get("TRAWLER_JOB_NAME") or "crawl")
        crawler.signals.connect(ext.spider_opened, signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signals.spider_closed)
        return ext

    def numbers(self) -> dict[str, Any]:
        stats = self.crawler.stats.get_stats()
        snapshot = dict(stats.get("trawler/progress") or {})
        run = run_numbers(stats)
        # Pages stored since the last heartbeat move the counters at once.
        newer = run["pages"] - int(snapshot.get("pages_this_run", 0))
        snapshot["pages_fetched"] = int(snapshot.get("pages_fetched", 0)) + newer
        snapshot["pages_queued"] = max(0, int(snapshot.get("pages_queued", 0)) - newer)
        snapshot.setdefault("errors", run["errors"])
        snapshot["in_flight"] = in_flight(self.crawler)
        return snapshot

    def render(self, status: str = "running") -> Group:
        return Group(progress_table(self.name, status, self.numbers()))

    async def spider_opened(self) -> None:
        self.live = Live(self.render(), console=self.console, auto_refresh=False,
                         transient=False)
        self.live.start()
        self._task = asyncio.ensure_future(self._redraw())

    async def _redraw(self) -> None:
        while self.live is not None:
            await asyncio.sleep(REFRESH_S)
            self.live.update(self.render(), refresh=True)

    async def spider_closed(self, reason: str) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.live is not None:
            self.live.update(self.render(f"ended ({reason})"), refresh=True)
            self.live.stop()
            self.live = None
