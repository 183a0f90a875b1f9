"""Site metadata of the fictional web: reads every ``sites/<host>/site.yaml`` once."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

SITES_DIR = Path(__file__).parent / "sites"

# Kinds that are infrastructure of the test web, not sites with a label of their own.
SERVICE_KINDS = frozenset({"hub", "edge", "bench"})


@cache
def load_sites() -> dict[str, dict[str, Any]]:
    """Metadata of every site by name (its registrable domain or full ``.onion`` address)."""
    found: dict[str, dict[str, Any]] = {}
    for meta_file in sorted(SITES_DIR.glob("*/site.yaml")):
        meta = yaml.safe_load(meta_file.read_text(encoding="utf-8")) or {}
        name = meta_file.parent.name
        meta["name"] = name
        meta.setdefault("hosts", [name])
        meta.setdefault("entry", "/")
        found[name] = meta
    return found


def site_dir(name: str) -> Path:
    return SITES_DIR / name
