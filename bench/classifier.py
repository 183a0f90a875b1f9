"""Pages per second of the page classifier on one core, for pages of up to 20 kB of text.

Pages come from ../shared/corpus/dev.jsonl when it is there (drawn in turn from every source, so
long forum and news pages count as much as short listings), else from the authored training
text. Prints a line of figures measured in this run, with the time ``load_model`` took (the
classifier's imports are already done by then), and a line each for pages of about 5 kB and
20 kB of text, made by joining documents of one source (most pages are short, but a long page
costs more to read, and issue #3's target holds for pages up to 20 kB).

    python bench/classifier.py [--model DIR] [--pages N] [--batch N] [--no-reasons]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

# One core: BLAS and OpenMP must not spread the work over more.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from classifiers import load_model  # noqa: E402
from classifiers.corpus import AUTHORED_FILE, read_corpus  # noqa: E402
from classifiers.speed import bench_pages, joined_pages, measure, pages_per_second  # noqa: E402

DEV = ROOT.parent / "shared" / "corpus" / "dev.jsonl"
LONG_PAGES = ((5_000, 300), (20_000, 150))  # (characters of text, pages timed)
TARGET = 1_000  # pages/s on one core, issue #3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model directory (default: configured)")
    parser.add_argument("--pages", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--no-reasons", action="store_true", help="scores only, no reasons")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    started = time.perf_counter()
    model = load_model(args.model)
    load_seconds = time.perf_counter() - started
    source = DEV if DEV.is_file() else AUTHORED_FILE
    examples = read_corpus([source])
    reasons = 0 if args.no_reasons else 10
    rate, line = measure(model, bench_pages(examples, args.pages), args.batch, reasons)
    print(f"classifier ({model.version}, pages from {source.name}): {line}; "
          f"model loaded in {load_seconds:.2f} s; ratio to the {TARGET:,} pages/s target "
          f"{rate / TARGET:.2f}")
    for size, count in LONG_PAGES:
        pages = joined_pages(examples, size, args.batch + count, seed=size)  # a batch warms up
        rate = pages_per_second(model, pages, args.batch, reasons)
        print(f"  pages of {size // 1000} kB of text: {rate:,.0f} pages/s ({1000 / rate:.2f} "
              f"ms/page; {count} pages, each joined from documents of one source); ratio to "
              f"the target {rate / TARGET:.2f}")


if __name__ == "__main__":
    main()
