"""trawler's own lexicons (configs/lexicons/*.toml): substance families and selling cues."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from crawler.config import PROJECT_ROOT

LEXICON_DIR = PROJECT_ROOT / "configs" / "lexicons"


class LexiconError(ValueError):
    """A lexicon file is missing or malformed; the message names the file (and the table and
    key)."""


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


def _checked_tables(path: Path, keys: tuple[str, ...]) -> dict[str, dict[str, tuple[str, ...]]]:
    """Each table of a lexicon file with its lists of strings under ``keys`` (empty where absent);
    anything else in the file is an error."""
    tables = {}
    for name, spec in _read(path).items():
        if not isinstance(spec, dict):
            raise LexiconError(f"lexicon {path}: {name} is not a table ([{name}])")
        unknown = set(spec) - set(keys)
        if unknown:
            raise LexiconError(f"lexicon {path}: [{name}] has unknown keys "
                               f"{', '.join(sorted(unknown))} (known: {', '.join(keys)})")
        for key, value in spec.items():
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise LexiconError(f"lexicon {path}: [{name}] {key} must be a list of strings")
        for pattern in spec.get("patterns", ()):
            try:
                re.compile(pattern)
            except re.error as exc:
                raise LexiconError(f"lexicon {path}: [{name}] pattern {pattern!r} is not a "
                                   f"regular expression ({exc})") from exc
        tables[name] = {key: tuple(spec.get(key, ())) for key in keys}
    return tables


def load_families(directory: Path | None = None) -> dict[str, Family]:
    path = (directory or LEXICON_DIR) / "substances.toml"
    return {name: Family(name=name, **spec) for name, spec in
            _checked_tables(path, ("terms", "slang", "patterns", "categories")).items()}


def load_cues(directory: Path | None = None) -> dict[str, Cue]:
    path = (directory or LEXICON_DIR) / "selling.toml"
    return {name: Cue(name=name, **spec) for name, spec in
            _checked_tables(path, ("terms", "patterns", "as_listed")).items()}
