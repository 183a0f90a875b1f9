"""End to end: `trawler crawl` over the fictional web through its proxy and Tor stand-in.

Every shop site must be flagged and no hard-negative site may be; bad pages are recorded
with their status or error, and the crawl goes on.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crawler.config import load_config
from tests import web as fictional
from tests.conftest import ROOT, trawler

pytestmark = pytest.mark.skipif(not load_config().model_path.exists(),
                                reason="no trained model in models/trawler")


@pytest.fixture(scope="module")
def crawled(web, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    data = tmp_path_factory.mktemp("crawl")
    config = data / "fast.toml"
    config.write_text("[crawl]\ntimeout = 4\n")
    result = trawler("crawl", str(ROOT / "configs/seeds/demo.yaml"),
                     "http://edge.example/", "http://edge.example/files/report.pdf",
                     "http://unreachable.invalid/",
                     "--job", "integration", "--proxy", web.proxy_url, "--tor", web.socks_url,
                     "--max-pages", "3000", "--depth", "4", data=data,
                     env={"TRAWLER_CONFIG": str(config)})
    assert result.returncode == 0, result.stderr[-3000:]
    listed = trawler("sites", "--json", data=data)
    assert listed.returncode == 0, listed.stderr
    sites = {s["site"]: s for s in json.loads(listed.stdout)}
    return {"data": data, "result": result, "sites": sites}


def test_every_shop_site_is_flagged(crawled) -> None:
    sites = crawled["sites"]
    missing = sorted(fictional.expected_flagged() - sites.keys())
    assert not missing, f"never reached: {missing}"
    unflagged = {name: sites[name]["score"] for name in fictional.expected_flagged()
                 if not sites[name]["flagged"]}
    assert not unflagged, f"shops not flagged: {unflagged}"


def test_no_hard_negative_is_flagged(crawled) -> None:
    sites = crawled["sites"]
    missing = sorted(fictional.hard_negatives() - sites.keys())
    assert not missing, f"never reached: {missing}"
    wrongly = {name: sites[name]["score"] for name in fictional.hard_negatives()
               if sites[name]["flagged"]}
    assert not wrongly, f"hard negatives flagged: {wrongly}"


def test_sites_json_has_the_documented_fields(crawled) -> None:
    for row in crawled["sites"].values():
        assert {"site", "flagged", "score", "pages", "flagged_pages", "status"} <= row.keys()
        assert isinstance(row["flagged"], bool) and 0.0 <= row["score"] <= 1.0


def test_onion_sites_went_through_socks_and_never_the_http_proxy(crawled, web) -> None:
    onions = {name for name in fictional.sites() if name.endswith(".onion")}
    assert onions <= crawled["sites"].keys()
    assert onions <= {r.host for r in web.socks.requests}
    assert not [r for r in web.requests if r.host.endswith(".onion") and r.via == "proxy"]


def test_bad_pages_are_recorded_and_the_crawl_goes_on(crawled) -> None:
    import sqlite3

    db = sqlite3.connect(Path(crawled["data"]) / "trawler.db")
    rows = {url: (status, error, ctype) for url, status, error, ctype in
            db.execute("select url, status, error, content_type from pages")}
    # Through the proxy an unknown host is the proxy's 502; direct, it would be a DNS error.
    status, error, _ = rows["http://unreachable.invalid/"]
    assert status == 502 or error.startswith(("dns", "refused"))
    statuses = {status for status, _, _ in rows.values()}
    assert {200, 404, 500} <= statuses
    assert any(ctype and not ctype.startswith("text/") for _, _, ctype in rows.values())
    assert "timeout" in {e.split(":")[0] for _, e, _ in rows.values() if e}
    job = db.execute("select status, stats from jobs where name = 'integration'").fetchone()
    assert job[0] == "finished" and json.loads(job[1])["pages_fetched"] == len(rows)


def test_malformed_seed_file_is_a_clear_error(tmp_path: Path) -> None:
    seeds = tmp_path / "bad.yaml"
    seeds.write_text("seeds:\n  - url: http://ok.example/\n  - url: [not, a, url]\n    tags: x\n")
    result = trawler("crawl", str(seeds), data=tmp_path)
    assert result.returncode == 2
    assert "bad.yaml:3" in result.stderr and "Traceback" not in result.stderr
