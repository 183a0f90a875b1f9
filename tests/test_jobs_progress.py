"""Progress: the numbers the terminal and the web page show, and a stalled crawl ending cleanly."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from rich.console import Console
from scrapy.utils.test import get_crawler

from crawler.config import load_config
from crawler.heartbeat import run_numbers
from crawler.progress import LiveProgress, progress_table
from tests.conftest import trawler

needs_model = pytest.mark.skipif(not load_config().model_path.exists(),
                                 reason="no trained model in models/trawler")


def text_of(renderable: object) -> str:
    console = Console(record=True, width=100)
    console.print(renderable)
    return console.export_text()


def test_progress_table_shows_every_number() -> None:
    shown = text_of(progress_table("nightly", "running", {
        "pages_fetched": 120, "pages_queued": 30, "sites_found": 12, "sites_flagged": 4,
        "flagged_pages": 9, "pages_per_s": 7.25, "in_flight": 3,
        "errors": {"timeout": 2, "dns": 5}, "onion_skipped": 1}))
    for expected in ("job nightly: running", "pages fetched", "120", "pages queued", "30",
                     "sites found", "12", "sites flagged", "pages/s", "7.2", "errors", "7",
                     "dns", "timeout", "Tor down"):
        assert expected in shown


def test_live_numbers_move_between_heartbeats() -> None:
    crawler = get_crawler(settings_dict={"TRAWLER_JOB_NAME": "j"})
    crawler.stats.open_spider()
    crawler.stats.set_value("trawler/progress", {"pages_fetched": 10, "pages_queued": 5,
                                                 "pages_this_run": 4, "errors": {}})
    for _ in range(6):
        crawler.stats.inc_value("trawler/pages")
    crawler.stats.inc_value("trawler/errors/timeout")
    live = LiveProgress(crawler, "j")
    numbers = live.numbers()
    assert (numbers["pages_fetched"], numbers["pages_queued"]) == (12, 3)
    assert run_numbers(crawler.stats.get_stats())["errors"] == {"timeout": 1}
    assert "pages fetched" in text_of(live.render())


@needs_model
def test_a_stalled_crawl_is_ended_and_reported(web, tmp_path: Path) -> None:
    config = tmp_path / "stall.toml"
    config.write_text("[crawl]\ntimeout = 10\n[scrapy]\nCLOSESPIDER_TIMEOUT_NO_ITEM = 2\n"
                      "TRAWLER_SCREENSHOTS = false\n")
    result = trawler("crawl", "http://edge.example/slow", "--job", "stuck", "--proxy",
                     web.proxy_url, "-q", data=tmp_path, env={"TRAWLER_CONFIG": str(config)})
    assert result.returncode == 2
    assert "stalled: no page finished in 2s" in result.stderr
    db = sqlite3.connect(tmp_path / "trawler.db")
    status, error, stats = db.execute(
        "select status, error, stats from jobs where name = 'stuck'").fetchone()
    assert status == "failed" and "jobs resume stuck" in error
    assert json.loads(stats)["pages_fetched"] <= 1
