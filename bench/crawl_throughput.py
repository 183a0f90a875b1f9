"""Crawl throughput: a bare Scrapy spider vs trawler's full pipeline, over the same local web.

Both crawl the same number of pages of the fictional web's generated host (bench.example)
through its proxy, each in its own process (one reactor per process), in this one run:

* bare: stock Scrapy settings, a spider that only follows links;
* full: trawler's spider, download handler, extraction, classification and storage (SQLite).

Prints pages/s of each and the ratio full/bare (target >= 0.85). Run: ``make bench``.
"""

from __future__ import annotations

import argparse
import json
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
config = load_config(data=data).with_crawl(max_pages=pages, depth=1000, proxy=proxy,
                                           per_site_concurrency=16, concurrency=16)
stats = run_crawl(config, [{"url": seed}])
print(json.dumps({"pages": stats.get("trawler/pages", 0), "seconds": stats["elapsed_time_seconds"],
                  "flagged": stats.get("trawler/flagged_pages", 0)}))
"""


def run(script: str, *args: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", script, *args], cwd=ROOT, check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=2000)
    args = parser.parse_args()

    from tests.web.server import start_in_thread

    web = start_in_thread(port=0)
    try:
        with tempfile.TemporaryDirectory() as data:
            bare = run(BARE, str(args.pages), web.proxy_url, SEED)
            full = run(FULL, str(args.pages), web.proxy_url, SEED, data)
    finally:
        web.stop()
    bare_rate = bare["pages"] / bare["seconds"]
    full_rate = full["pages"] / full["seconds"]
    print(f"bare Scrapy spider : {bare['pages']:6.0f} pages in {bare['seconds']:6.2f}s "
          f"= {bare_rate:7.1f} pages/s")
    print(f"trawler full       : {full['pages']:6.0f} pages in {full['seconds']:6.2f}s "
          f"= {full_rate:7.1f} pages/s  ({full['flagged']:.0f} flagged)")
    print(f"ratio full/bare    : {full_rate / bare_rate:.2f}  (target >= 0.85)")


if __name__ == "__main__":
    main()
