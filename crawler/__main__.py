"""``python -m crawler`` is ``trawler``."""

from crawler.cli import main

main()
