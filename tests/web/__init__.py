"""The fictional web: a local test internet of drug shops, hard negatives, forums and hubs.

Start it with ``FictionalWeb`` (async) or ``start_in_thread()`` (sync), or
``python -m tests.web --port 8899``; the functions below read each site's ``site.yaml``.
"""

from __future__ import annotations

from typing import Any

from tests.web.catalog import SERVICE_KINDS, load_sites


def sites() -> dict[str, dict[str, Any]]:
    """Site name -> metadata from its ``site.yaml`` (plus ``name``, ``hosts``, ``entry``)."""
    return {name: dict(meta) for name, meta in load_sites().items()}


def expected_flagged() -> set[str]:
    """Sites a correct crawl flags as selling drugs (including forums with hidden sale threads)."""
    return {name for name, meta in load_sites().items() if meta.get("expected") == "drugs"}


def hard_negatives() -> set[str]:
    """Sites that must not be flagged: benign, excluding hubs, edge and bench."""
    return {
        name
        for name, meta in load_sites().items()
        if meta.get("expected") == "benign" and meta.get("kind") not in SERVICE_KINDS
    }


def seeds() -> list[str]:
    """Hub URLs to start a crawl from; every labelled site is within depth 3 of them."""
    return [
        f"http://{name}{meta['entry']}"
        for name, meta in load_sites().items()
        if meta.get("kind") == "hub"
    ]


def sale_threads() -> dict[str, list[str]]:
    """Forum site name -> absolute URLs of every page of the threads that sell drugs."""
    return {
        name: list(meta["sale_threads"])
        for name, meta in load_sites().items()
        if meta.get("sale_threads")
    }


def entities(name: str) -> dict[str, list[str]]:
    """Valid payment and contact identifiers shown on a site, by type (``btc``, ``onion``...)."""
    return {
        kind: list(values) for kind, values in (load_sites()[name].get("entities") or {}).items()
    }


def invalid_entities(name: str) -> dict[str, list[str]]:
    """Identifiers on a site that look right but fail their checksum (must not be extracted)."""
    return {
        kind: list(values)
        for kind, values in (load_sites()[name].get("invalid_entities") or {}).items()
    }


def __getattr__(attribute: str) -> Any:
    # The server classes load lazily so that reading metadata needs no event loop machinery.
    if attribute in {"FictionalWeb", "start_in_thread", "WebRequest"}:
        from tests.web import server

        return getattr(server, attribute)
    if attribute in {"SocksServer", "start_socks_in_thread"}:
        from tests.web import socks

        return getattr(socks, attribute)
    raise AttributeError(attribute)
