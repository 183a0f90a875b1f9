"""trawler's own lexicons (configs/lexicons/*.toml): substance families and selling cues."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from crawler.config import PROJECT_ROOT

LEXICON_DIR = PROJECT_ROOT / "configs" / "lexicons"


class LexiconError(Exception):
    """A lexicon file is missing or malformed; the message names the file."""


@dataclass(frozen=True)
class Family:
    """One substance family: names, weaker slang, naming patterns, market categories."""

    name: str
    terms: tuple[str, ...]
    slang: tuple[str, ...]
    patterns: tuple[str, ...]
    categories: tuple[str, ...]


@dataclass(frozen=True)
class Cue:
    """One selling (or benign-context) cue category: terms and patterns. A selling cue's Russian
    nouns and adjectives count in any case and number, except those ``as_listed``, whose other
    forms are everyday words ("работа" is a courier's job; "работы нет" is no such offer)."""

    name: str
    terms: tuple[str, ...]
    patterns: tuple[str, ...]
    as_listed: tuple[str, ...] = ()


def _read(path: Path) -> dict:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError as exc:
        raise LexiconError(f"lexicon {path} is missing") from exc
    except tomllib.TOMLDecodeError as exc:
        raise LexiconError(f"lexicon {path} is not valid TOML: {exc}") from exc


def load_families(directory: Path | None = None) -> dict[str, Family]:
    raw = _read((directory or LEXICON_DIR) / "substances.toml")
    return {
        name: Family(
            name=name,
            terms=tuple(spec.get("terms", ())),
            slang=tuple(spec.get("slang", ())),
            patterns=tuple(spec.get("patterns", ())),
            categories=tuple(spec.get("categories", ())),
        )
        for name, spec in raw.items()
    }


def load_cues(directory: Path | None = None) -> dict[str, Cue]:
    raw = _read((directory or LEXICON_DIR) / "selling.toml")
    return {
        name: Cue(name=name, terms=tuple(spec.get("terms", ())),
                  patterns=tuple(spec.get("patterns", ())),
                  as_listed=tuple(spec.get("as_listed", ())))
        for name, spec in raw.items()
    }
