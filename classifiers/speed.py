"""Pages per second of a model, measured in this process (the classifier is single-threaded, so
this is one core's throughput), on pages of up to 20 kB of text, or on long pages made by joining
documents."""

from __future__ import annotations

import platform
import random
import time
from collections import defaultdict
from collections.abc import Sequence

from classifiers.corpus import Example
from classifiers.model import Document, TrawlerModel

MAX_TEXT = 20_000


def bench_pages(examples: Sequence[Example], n: int, seed: int = 0) -> list[Document]:
    """Up to ``n`` distinct pages taken in turn from every source (so long pages count as much
    as short listings), without repeats: repeated texts would flatter the lexicon's caches."""
    rng = random.Random(seed)
    by_source: dict[str, list[Example]] = defaultdict(list)
    for e in examples:
        by_source[e.source].append(e)
    queues = [rng.sample(items, len(items)) for _, items in sorted(by_source.items())]
    pages: list[Document] = []
    seen: set[str] = set()
    while len(pages) < n and any(queues):
        for queue in queues:
            if queue and len(pages) < n:
                e = queue.pop()
                text = e.text[:MAX_TEXT]
                if text not in seen:
                    seen.add(text)
                    pages.append(Document(text=text, lang=e.lang))
    return pages


def joined_pages(examples: Sequence[Example], size: int, n: int,
                 seed: int = 0) -> list[Document]:
    """``n`` pages of ``size`` characters of text, each made by joining documents of one source
    (sources in turn): what a long shop, forum or news page reads like."""
    rng = random.Random(seed)
    by_source: dict[str, list[str]] = defaultdict(list)
    for e in examples:
        if e.text:
            by_source[e.source].append(e.text)
    sources = sorted(by_source)
    pages: list[Document] = []
    while sources and len(pages) < n:
        texts, parts, total = by_source[sources[len(pages) % len(sources)]], [], 0
        while total < size:
            parts.append(rng.choice(texts))
            total += len(parts[-1]) + 1
        pages.append(Document(text="\n".join(parts)[:size]))
    return pages


def pages_per_second(model: TrawlerModel, pages: Sequence[Document], batch: int = 64,
                     reasons: int = 10) -> float:
    """Pages per second over all but the first batch, which only warms the caches of words
    (a page classified twice would cost less the second time)."""
    model.classify(list(pages[:batch]), reasons=reasons)
    timed = pages[batch:] or pages
    start = time.perf_counter()
    for i in range(0, len(timed), batch):
        model.classify(list(timed[i:i + batch]), reasons=reasons)
    return len(timed) / (time.perf_counter() - start)


def processor() -> str:
    """The CPU's model name (Linux), so that a figure says what it was measured on: the same
    code runs three times faster on one machine of this project than on another."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def measure(model: TrawlerModel, pages: Sequence[Document], batch: int = 64,
            reasons: int = 10) -> tuple[float, str]:
    """(pages per second, one line saying what was measured)."""
    if not pages:
        raise ValueError("no pages to measure")
    rate = pages_per_second(model, pages, batch, reasons)
    kb = sum(len(p.text.encode()) for p in pages) / len(pages) / 1024
    return rate, (f"{rate:,.0f} pages/s on one core of {processor()} ({len(pages)} pages, "
                  f"mean {kb:.1f} kB, at most {MAX_TEXT // 1000} kB of text each, batch {batch}, "
                  f"reasons {'on' if reasons else 'off'})")
