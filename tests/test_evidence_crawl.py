"""End to end: `trawler crawl` over part of the fictional web leaves evidence that `warcio check`
accepts, one screenshot per flagged page, entities on the shop pages, and that
`trawler evidence verify` passes on, and fails on once a verdict is edited."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from crawler.config import load_config
from tests.conftest import trawler

pytestmark = pytest.mark.skipif(not load_config().model_path.exists(),
                                reason="no trained model in models/trawler")

ONION = "3l7u3eurnas7m2yxjeegipwwehg35z46yxxxtxcqxu4b6f7qndewunid.onion"
SEEDS = ["http://shop-minsk.example/", "http://kyiv-zakladky.example/", f"http://{ONION}/",
         "http://novosti-minsk.example/"]


@pytest.fixture(scope="module")
def crawled(web, tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("evidence-crawl")
    result = trawler("crawl", *SEEDS, "--job", "evidence", "--proxy", web.proxy_url,
                     "--tor", web.socks_url, "--depth", "2", "--max-pages", "300", "--quiet",
                     data=data)
    assert result.returncode == 0, result.stderr[-3000:]
    return data


def rows(data: Path, query: str) -> list[tuple]:
    with sqlite3.connect(data / "trawler.db") as conn:
        return conn.execute(query).fetchall()


def test_warc_files_pass_warcio_check(crawled: Path) -> None:
    files = sorted((crawled / "warc").glob("*.warc.gz"))
    assert files and any(f.name.endswith("-tor.warc.gz") for f in files)
    check = subprocess.run([str(Path(sys.executable).parent / "warcio"), "check",
                            *map(str, files)], capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout


def test_one_screenshot_per_flagged_page(crawled: Path) -> None:
    flagged = rows(crawled, "SELECT c.id FROM captures c JOIN pages p ON p.id = c.page_id "
                            "WHERE c.reason = 'drugs-verdict' AND p.content_type LIKE 'text/html%'")
    shots = rows(crawled, "SELECT capture_id, status, error FROM screenshots")
    assert flagged, "the shops' pages were not captured"
    assert sorted(s[0] for s in shots) == sorted(c[0] for c in flagged)
    assert all(s[1] == "taken" for s in shots), shots


def test_entities_on_shop_pages(crawled: Path) -> None:
    found = set(rows(crawled, "SELECT e.kind, e.value FROM entities e "
                              "JOIN page_entities pe ON pe.entity_id = e.id "
                              "JOIN pages p ON p.id = pe.page_id "
                              "WHERE p.url = 'http://shop-minsk.example/oplata.html'"))
    assert {("btc", "1JvR2SMgb8A7pRtpJing6USEzbUz8h3qmx"), ("qiwi", "+375296142783"),
            ("card", "4276526018159080"), ("telegram", "@minsk247_bot")} <= found


def test_verify_passes_then_catches_an_edited_verdict(crawled: Path) -> None:
    result = trawler("evidence", "verify", data=crawled)
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(crawled / "trawler.db") as conn:
        conn.execute("UPDATE verdicts SET label = 'benign' WHERE page_id = (SELECT page_id FROM "
                     "captures WHERE reason = 'drugs-verdict' ORDER BY id LIMIT 1)")
    result = trawler("evidence", "verify", data=crawled)
    assert result.returncode == 1 and "stored verdict does not match" in result.stderr
