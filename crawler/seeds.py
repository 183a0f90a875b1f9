"""Seeds: URLs given on the command line or listed in YAML seed files (configs/seeds/*.yaml).

A seed file looks like::

    proxy: http://127.0.0.1:3128       # optional, for every seed of the file
    tor: socks5h://127.0.0.1:9050      # optional Tor proxy for .onion hosts
    schedule: daily                    # optional: `trawler scheduler add` uses it
    seeds:
      - url: http://links-catalog.example/
        tags: [hub]
        max_pages: 200      # optional per-seed limits
        depth: 2
        proxy: http://10.0.0.5:8080   # this seed (and what it leads to) via another proxy
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
FILE_FIELDS = {"seeds", "proxy", "tor", "schedule"}


PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")
TOR_SCHEMES = ("socks5", "socks5h")


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

    @property
    def tor(self) -> str | None:
        return self.options.get("tor")

    @property
    def schedule(self) -> str | None:
        return self.options.get("schedule")

    def to_dict(self) -> dict[str, Any]:
        return {"url": self.url, "tags": list(self.tags), "max_pages": self.max_pages,
                "depth": self.depth, "proxy": self.proxy, "tor": self.tor,
                "schedule": self.schedule, "source": self.source}


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
    mapping["__lines__"] = {key.value: key.start_mark.line + 1 for key, _ in node.value}
    return mapping


def _proxy_field(entry: dict[str, Any], name: str, where: str,
                 schemes: tuple[str, ...]) -> str | None:
    value = entry.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or urlsplit(value).scheme not in schemes \
            or not urlsplit(value).hostname:
        raise SeedError(f"{where}: field {name!r} must be a URL starting with "
                        f"{' or '.join(s + '://' for s in schemes)}, got {value!r}")
    return value


def _schedule_field(entry: dict[str, Any], where: str) -> str | None:
    from crawler.scheduler import ScheduleError, parse_every

    value = entry.get("schedule")
    if value is None:
        return None
    try:
        parse_every(value)
    except ScheduleError as exc:
        raise SeedError(f"{where}: field 'schedule': {exc}") from exc
    return str(value)


def _field_line(entry: dict[str, Any], path: Path, name: str) -> str:
    """``file:line`` of a field when known, else of its mapping."""
    line = entry.get("__lines__", {}).get(name, entry.get("__line__", "?"))
    return f"{path}:{line}"


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
    unknown = sorted(k for k in set(doc) - FILE_FIELDS if not k.startswith("__"))
    if unknown:
        raise SeedError(f"{_field_line(doc, path, unknown[0])}: unknown top-level field(s) "
                        f"{', '.join(unknown)} (known: {', '.join(sorted(FILE_FIELDS))})")
    defaults = {
        "proxy": _proxy_field(doc, "proxy", _field_line(doc, path, "proxy"), PROXY_SCHEMES),
        "tor": _proxy_field(doc, "tor", _field_line(doc, path, "tor"), TOR_SCHEMES),
        "schedule": _schedule_field(doc, _field_line(doc, path, "schedule")),
    }
    seeds = []
    for index, entry in enumerate(doc["seeds"], 1):
        if isinstance(entry, str):
            seeds.append(Seed(url=check_url(entry, f"{path}: seed {index}"), source=str(path),
                              proxy=defaults["proxy"],
                              options={k: v for k, v in defaults.items()
                                       if k != "proxy" and v is not None}))
            continue
        if not isinstance(entry, dict):
            raise SeedError(f"{path}: seed {index} must be a URL or a mapping with 'url'")
        where = f"{path}:{entry.get('__line__', '?')}"
        unknown = sorted(k for k in set(entry) - SEED_FIELDS if not k.startswith("__"))
        if unknown:
            raise SeedError(f"{_field_line(entry, path, unknown[0])}: unknown field(s) "
                            f"{', '.join(unknown)} (known: {', '.join(sorted(SEED_FIELDS))})")
        if "url" not in entry:
            raise SeedError(f"{where}: field 'url' is missing")
        url = check_url(entry["url"], f"{_field_line(entry, path, 'url')}: field 'url'")
        tags = entry.get("tags") or []
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise SeedError(f"{_field_line(entry, path, 'tags')}: field 'tags' must be a list "
                            "of strings")
        note = entry.get("note")
        if note is not None and not isinstance(note, str):
            raise SeedError(f"{_field_line(entry, path, 'note')}: field 'note' must be text")
        tor = _proxy_field(entry, "tor", _field_line(entry, path, "tor"), TOR_SCHEMES)
        schedule = _schedule_field(entry, _field_line(entry, path, "schedule"))
        options = {"tor": tor or defaults["tor"], "schedule": schedule or defaults["schedule"],
                   "note": note}
        seeds.append(Seed(
            url=url,
            tags=tuple(tags),
            max_pages=_int_field(entry, "max_pages", _field_line(entry, path, "max_pages")),
            depth=_int_field(entry, "depth", _field_line(entry, path, "depth")),
            proxy=_proxy_field(entry, "proxy", _field_line(entry, path, "proxy"),
                               PROXY_SCHEMES) or defaults["proxy"],
            source=f"{path}",
            options={k: v for k, v in options.items() if v is not None},
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


def seeds_tor(seeds: list[Seed]) -> str | None:
    """The Tor proxy the seed files ask for; a job has one, so they must agree."""
    tors = sorted({seed.tor for seed in seeds if seed.tor})
    if len(tors) > 1:
        raise SeedError(f"the seeds ask for different Tor proxies ({', '.join(tors)}); a job "
                        "uses one: pass --tor URL or make the seed files agree")
    return tors[0] if tors else None
