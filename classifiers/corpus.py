"""Labelled corpus files (JSON Lines, DESIGN.md "Labelled corpus format") and training weights."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

AUTHORED_FILE = Path(__file__).resolve().parent / "data" / "authored.jsonl"
AUTHORED_SOURCE = "authored"
LABEL_VALUES = ("drugs", "benign", "gray")


class CorpusError(Exception):
    """A corpus file cannot be read; the message names the file and line."""


@dataclass
class Example:
    """One labelled document."""

    id: str
    source: str
    lang: str
    label: str
    kind: str
    group: str
    text: str
    url: str | None = None
    category: str | None = None

    @property
    def y(self) -> int:
        return int(self.label == "drugs")

    def as_text(self) -> str:
        return self.text


def scorable(examples: Iterable[Example]) -> list[Example]:
    """The examples a model may be measured on: all but authored text, which is written for
    training and never evaluated."""
    return [e for e in examples if e.source != AUTHORED_SOURCE]


def read_corpus(paths: Iterable[str | Path]) -> list[Example]:
    examples = []
    for path in map(Path, paths):
        if not path.is_file():
            raise CorpusError(f"corpus file {path} does not exist")
        with path.open(encoding="utf-8") as fh:
            for number, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    raw = json.loads(line)
                    label = raw["label"]
                    if label not in LABEL_VALUES:
                        raise ValueError(f"label must be one of {LABEL_VALUES}, not {label!r}")
                    examples.append(Example(
                        id=str(raw.get("id", f"{path.name}:{number}")),
                        source=str(raw.get("source") or "unknown"),
                        lang=str(raw.get("lang") or "unknown"),
                        label=label,
                        kind=str(raw.get("kind") or ""),
                        group=str(raw.get("group") or raw.get("id") or f"{path}:{number}"),
                        text=str(raw.get("text") or ""),
                        url=raw.get("url"),
                        category=(raw.get("meta") or {}).get("category"),
                    ))
                except (ValueError, KeyError, TypeError) as exc:
                    raise CorpusError(f"{path}:{number}: not a corpus line ({exc})") from exc
    return examples


def strata(examples: Sequence[Example]) -> list[tuple[str, str, str]]:
    """(source, label, market category) of each document. In a source with both labels (a
    market), benign listings split by their top-level category (weapons, forgeries, guides...),
    so that each kind of other goods counts; news sections and the like stay one stratum."""
    labels: dict[str, set[str]] = {}
    for e in examples:
        labels.setdefault(e.source, set()).add(e.label)
    return [(e.source, e.label,
             (e.category or "").split("/")[0]
             if e.label == "benign" and len(labels[e.source] - {"gray"}) > 1 else "")
            for e in examples]


def language_group(lang: str) -> str:
    """The language a document is weighed with: its first language, Ukrainian and Belarusian
    with Russian (the shops that sell in Belarus write all three, often on one page)."""
    first = lang.split("/")[0]
    return "ru" if first in ("uk", "be") else first


def training_weights(examples: Sequence[Example]) -> np.ndarray:
    """Per-document weights: each stratum (``strata``) weighs as the square root of its size,
    so 6,000 market listings do not drown 30 Russian shop bots nor 500 guides 13 weapon
    listings; then, within each language, positives and negatives are balanced, so that no
    language counts for or against a shop by itself (the corpus's Russian is mostly news, its
    English mostly market listings). Languages with one label only are balanced together. The
    mean weight is 1."""
    keys = strata(examples)
    sizes = Counter(keys)
    w = np.array([1.0 / np.sqrt(sizes[k]) for k in keys])
    y = np.array([e.y for e in examples], dtype=int)
    group = np.array([language_group(e.lang) for e in examples], dtype=object)
    labels: dict[str, set[int]] = {}
    for g, label in zip(group, y, strict=True):
        labels.setdefault(g, set()).add(label)
    group[[len(labels[g]) == 1 for g in group]] = None  # pooled
    for g in set(group):
        in_group = group == g
        chosen = [in_group & (y == c) for c in (0, 1)]
        if all(c.any() for c in chosen):
            total = w[in_group].sum()
            for c in chosen:
                w[c] *= total / 2 / w[c].sum()
    return w * len(w) / w.sum()
