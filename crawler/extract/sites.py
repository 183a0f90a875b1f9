"""Which Site a URL belongs to: its registrable domain (offline public suffix list) or .onion."""

from __future__ import annotations

import contextlib
from functools import lru_cache
from urllib.parse import urlsplit

import tldextract

# The snapshot bundled with tldextract; never fetched at run time.
_EXTRACT = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


@lru_cache(maxsize=65536)
def site_of_host(host: str) -> str:
    host = host.strip(".").lower()
    if host.endswith(".onion"):
        labels = host.split(".")
        return ".".join(labels[-2:])
    with contextlib.suppress(UnicodeError):
        host = host.encode("idna").decode("ascii")
    parts = _EXTRACT(host)
    if parts.domain and parts.suffix:
        return f"{parts.domain}.{parts.suffix}"
    if parts.ipv4 or parts.ipv6:
        return host
    # Unknown suffix (.example, .test, .local): keep the last two labels.
    labels = host.split(".")
    return ".".join(labels[-2:]) if len(labels) >= 2 else host


def site_of_url(url: str) -> str:
    return site_of_host(urlsplit(url).hostname or "")


def is_onion(host_or_url: str) -> bool:
    host = urlsplit(host_or_url).hostname if "://" in host_or_url else host_or_url
    return bool(host) and host.rstrip(".").lower().endswith(".onion")
