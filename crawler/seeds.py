"""Seeds: URLs given on the command line or listed in YAML seed files (configs/seeds/*.yaml).

A seed file looks like::

    seeds:
      - url: http://links-catalog.example/
        tags: [hub]
        max_pages: 200      # optional per-seed limits
        depth: 2
      - http://plain-url.example/   # a bare string is a URL

Mistakes are reported with the file, line and field, and nothing is crawled until they are fixed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

SEED_FIELDS = {"url", "tags", "max_pages", "depth", "proxy", "tor", "schedule", "note"}


class SeedError(ValueError):
    """A seed or seed file is unusable; the message names where and why."""


@dataclass(frozen=True)
class Seed:
    url: str
    tags: tuple[str, ...] = ()
    max_pages: int | None = None
    depth: int | None = None
    proxy: str | None = None
    source: str = "command line"
    options: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {"url": self.url, "tags": list(self.tags), "max_pages": self.max_pages,
                "depth": self.depth, "proxy": self.proxy, "source": self.source}


def check_url(url: str, where: str) -> str:
    if not isinstance(url, str) or not url.strip():
        raise SeedError(f"{where}: a seed URL must be a non-empty string")
    url = url.strip()
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SeedError(f"{where}: {url!r} is not an http(s) URL")
    return url


class _LineLoader(yaml.SafeLoader):
    """Keeps each mapping's line number so errors can point at it."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _int_field(entry: dict[str, Any], name: str, where: str) -> int | None:
    value = entry.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise SeedError(f"{where}: field {name!r} must be a non-negative integer, got {value!r}")
    return value


def load_seed_file(path: Path) -> list[Seed]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SeedError(f"{path}: cannot read seed file ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise SeedError(f"{path}: seed file is not UTF-8 text") from exc
    try:
        doc = yaml.load(text, Loader=_LineLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SeedError(f"{path}:{line}: not valid YAML ({problem})") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("seeds"), list):
        raise SeedError(f"{path}: expected a top-level 'seeds:' list")
    seeds = []
    for index, entry in enumerate(doc["seeds"], 1):
        if isinstance(entry, str):
            seeds.append(Seed(url=check_url(entry, f"{path}: seed {index}"), source=str(path)))
            continue
        if not isinstance(entry, dict):
            raise SeedError(f"{path}: seed {index} must be a URL or a mapping with 'url'")
        where = f"{path}:{entry.pop('__line__', '?')}"
        unknown = sorted(set(entry) - SEED_FIELDS)
        if unknown:
            raise SeedError(f"{where}: unknown field(s) {', '.join(unknown)} "
                            f"(known: {', '.join(sorted(SEED_FIELDS))})")
        if "url" not in entry:
            raise SeedError(f"{where}: field 'url' is missing")
        tags = entry.get("tags") or []
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise SeedError(f"{where}: field 'tags' must be a list of strings")
        proxy = entry.get("proxy")
        if proxy is not None and not isinstance(proxy, str):
            raise SeedError(f"{where}: field 'proxy' must be a URL string")
        seeds.append(Seed(
            url=check_url(entry["url"], f"{where}: field 'url'"),
            tags=tuple(tags),
            max_pages=_int_field(entry, "max_pages", where),
            depth=_int_field(entry, "depth", where),
            proxy=proxy,
            source=f"{path}",
            options={k: v for k, v in entry.items() if k in ("tor", "schedule", "note")},
        ))
    return seeds


def load_seeds(args: list[str]) -> list[Seed]:
    """Seeds from command-line arguments: each is a URL or a path to a seed file."""
    seeds: list[Seed] = []
    for arg in args:
        path = Path(arg)
        if path.suffix.lower() in (".yaml", ".yml") or path.is_file():
            if not path.exists():
                raise SeedError(f"{path}: seed file does not exist")
            seeds.extend(load_seed_file(path))
        else:
            seeds.append(Seed(url=check_url(arg, "seed")))
    unique = {s.url: s for s in seeds}
    if not unique:
        raise SeedError("no seeds given: pass URLs or seed files (configs/seeds/*.yaml)")
    return list(unique.values())
