"""Pages per second of the page classifier on one core, for pages of up to 20 kB of text.

Pages come from ../shared/corpus/dev.jsonl when it is there (drawn in turn from every source, so
long forum and news pages count as much as short listings), else from the authored training
text. Prints one line of figures measured in this run, with the time ``load_model`` took (the
classifier's imports are already done by then).

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
from classifiers.speed import bench_pages, describe  # noqa: E402

DEV = ROOT.parent / "shared" / "corpus" / "dev.jsonl"


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
    pages = bench_pages(read_corpus([source]), args.pages)
    line = describe(model, pages, args.batch, 0 if args.no_reasons else 10)
    print(f"classifier ({model.version}, pages from {source.name}): {line}; "
          f"model loaded in {load_seconds:.2f} s")


if __name__ == "__main__":
    main()
