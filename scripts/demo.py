"""`make demo`: serve the fictional web, crawl it with the bundled model, print flagged sites.

The crawl runs into ./demo-data (SQLite, WARCs); afterwards the review app can be started on
the same data with ``trawler --data demo-data serve``.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.web.server import start_in_thread  # noqa: E402

DATA = ROOT / "demo-data"


def main() -> int:
    web = start_in_thread(port=0, socks_port=0)
    print(f"fictional web on {web.proxy_url} (HTTP proxy), Tor stand-in on {web.socks_url}")
    job = "demo-" + datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    try:
        result = subprocess.run(
            [sys.executable, "-m", "crawler", "crawl", str(ROOT / "configs/seeds/demo.yaml"),
             "--job", job, "--proxy", web.proxy_url, "--tor", web.socks_url,
             "--max-pages", "2000", "--depth", "4", "--data", str(DATA)],
            cwd=ROOT, check=False)
    finally:
        web.stop()
    if result.returncode == 0:
        print(f"\nData in {DATA}. Review the flagged sites in the web app:\n"
              f"  .venv/bin/trawler --data {DATA.name} users add alice --role reviewer\n"
              f"  .venv/bin/trawler --data {DATA.name} serve   # http://127.0.0.1:8080/")
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
