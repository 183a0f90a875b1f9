"""DNS blocking: a Response Policy Zone and a hosts file. Only resolvable domains go in.

``.onion`` addresses and IP-address sites never reach DNS, so these formats leave them out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import BinaryIO

from crawler.exports.formats.base import BatchHeader, ExportFormat
from crawler.exports.identifiers import Identifier, is_dns_name, iso

RPZ_TTL = 300
# refresh, retry, expire, negative TTL
SOA_TIMERS = "3600 600 86400 300"


def is_blockable_domain(identifier: Identifier) -> bool:
    return identifier.type == "domain" and is_dns_name(identifier.value)


def write_rpz(identifiers: Sequence[Identifier], header: BatchHeader, out: BinaryIO) -> None:
    """Each domain and every name under it answer NXDOMAIN (``CNAME .``)."""
    origin = header.rpz_origin.rstrip(".") + "."
    lines = [
        f"; trawler response policy zone, batch {header.number}, "
        f"{len(identifiers)} domain(s), {iso(header.created_at)}",
        f"$ORIGIN {origin}",
        f"$TTL {RPZ_TTL}",
        # The SOA serial is the batch number: it only ever grows.
        f"@ IN SOA localhost. hostmaster.localhost. {header.number} {SOA_TIMERS}",
        "@ IN NS localhost.",
    ]
    for item in identifiers:
        lines += [f"{item.value} IN CNAME .", f"*.{item.value} IN CNAME ."]
    out.write(("\n".join(lines) + "\n").encode("ascii"))


def write_hosts(identifiers: Sequence[Identifier], header: BatchHeader, out: BinaryIO) -> None:
    """``0.0.0.0`` for each domain and the host names seen under it (no wildcards in hosts)."""
    lines = [f"# trawler hosts blocklist, batch {header.number}, "
             f"{len(identifiers)} domain(s), {iso(header.created_at)}"]
    for item in identifiers:
        lines.append(f"0.0.0.0 {item.value}")
        lines += [f"0.0.0.0 {host}" for host in item.hosts if is_dns_name(host)]
    out.write(("\n".join(lines) + "\n").encode("ascii"))


RPZ = ExportFormat("rpz", "rpz", "text/dns", "DNS Response Policy Zone (domains, with wildcards)",
                   is_blockable_domain, write_rpz)
HOSTS = ExportFormat("hosts", "hosts", "text/plain; charset=us-ascii",
                     "hosts file lines 0.0.0.0 DOMAIN", is_blockable_domain, write_hosts)
