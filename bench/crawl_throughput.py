"""Crawl throughput: a bare Scrapy spider vs trawler's full pipeline, over the same local web.

Both crawl the same number of pages of the fictional web's generated host (bench.example)
through its proxy, each in its own process (one reactor per process), in this one run:

* bare: stock Scrapy settings, a spider that only follows links;
* full: trawler's spider, download handler, extraction, entities, classification and storage
  (SQLite) — the pipeline the target is set for;
* full + evidence: the same plus WARC capture and Chromium screenshots of flagged pages.

Prints pages/s of each and the ratios to bare (target >= 0.85 for full). Run: ``make bench``.

5,000 pages by default (about half a minute each: the rate a crawl keeps up, not its first
seconds); ``--pages`` sets another length. The run with evidence, a few pages a second, crawls
``--evidence-pages`` (1,000).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SEED = "http://bench.example/p/0"

BARE = r"""
import json, sys
import scrapy
from scrapy.crawler import CrawlerProcess

pages, proxy = int(sys.argv[1]), sys.argv[2]

class Bare(scrapy.Spider):
    name = "bare"
    seen = set()

    async def start(self):
        yield scrapy.Request(sys.argv[3], meta={"proxy": proxy})

    def parse(self, response):
        for href in response.css("a::attr(href)").getall():
            url = response.urljoin(href)
            if url not in self.seen and len(self.seen) < pages:
                self.seen.add(url)
                yield scrapy.Request(url, meta={"proxy": proxy})

process = CrawlerProcess({
    "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
    "LOG_LEVEL": "ERROR", "CONCURRENT_REQUESTS": 16, "CONCURRENT_REQUESTS_PER_DOMAIN": 16,
    "ROBOTSTXT_OBEY": False, "TELNETCONSOLE_ENABLED": False, "COOKIES_ENABLED": False,
})
crawler = process.create_crawler(Bare)
process.crawl(crawler)
process.start()
stats = crawler.stats.get_stats()
print(json.dumps({"pages": stats.get("response_received_count", 0),
                  "seconds": stats["elapsed_time_seconds"]}))
"""

FULL = r"""
import json, sys
from crawler.config import load_config
from crawler.runner import run_crawl

pages, proxy, seed, data = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
evidence = sys.argv[5] == "evidence"
config = load_config(data=data).with_crawl(max_pages=pages, depth=1000, proxy=proxy,
                                           per_site_concurrency=16, concurrency=16)
stats = run_crawl(config, [{"url": seed}], overrides={"TRAWLER_EVIDENCE": evidence})
print(json.dumps({"pages": stats.get("trawler/pages", 0), "seconds": stats["elapsed_time_seconds"],
                  "flagged": stats.get("trawler/flagged_pages", 0)}))
"""


def run(script: str, *args: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", script, *args], cwd=ROOT, check=False,
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"benchmark run failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=5000)
    parser.add_argument("--no-evidence", action="store_true",
                        help="skip the (slow) run with WARC capture and screenshots")
    parser.add_argument("--evidence-pages", type=int, default=1000,
                        help="pages of the run with evidence (a few per second)")
    args = parser.parse_args()

    from classifiers.speed import processor
    from tests.web.server import start_in_thread

    print(f"machine            : {processor()}, {os.cpu_count()} cores")

    web = start_in_thread(port=0)
    try:
        bare = run(BARE, str(args.pages), web.proxy_url, SEED)
        with tempfile.TemporaryDirectory() as data:
            full = run(FULL, str(args.pages), web.proxy_url, SEED, data, "plain")
        evidence = None
        if not args.no_evidence:
            with tempfile.TemporaryDirectory() as data:
                evidence = run(FULL, str(args.evidence_pages), web.proxy_url, SEED, data,
                               "evidence")
    finally:
        web.stop()
    bare_rate = bare["pages"] / bare["seconds"]
    runs = [("bare Scrapy spider", bare), ("trawler full", full)]
    if evidence is not None:
        runs.append(("trawler + evidence", evidence))
    for name, result in runs:
        rate = result["pages"] / result["seconds"]
        flagged = f"  ({result['flagged']:.0f} flagged)" if "flagged" in result else ""
        print(f"{name:19}: {result['pages']:6.0f} pages in {result['seconds']:6.2f}s "
              f"= {rate:7.1f} pages/s{flagged}")
    print(f"ratio full/bare    : {full['pages'] / full['seconds'] / bare_rate:.2f}  "
          "(target >= 0.85)")
    if evidence is not None:
        print(f"ratio evidence/bare: {evidence['pages'] / evidence['seconds'] / bare_rate:.2f}")


if __name__ == "__main__":
    main()
