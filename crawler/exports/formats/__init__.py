"""Export formats by name: what each carries and how it writes a batch file."""

from __future__ import annotations

from crawler.exports.formats import dns, registry, stix, tabular, wallets
from crawler.exports.formats.base import BatchHeader, ExportFormat

FORMATS: dict[str, ExportFormat] = {
    f.name: f for f in (tabular.CSV, tabular.JSON, dns.RPZ, dns.HOSTS, stix.STIX,
                        registry.REGISTRY_XML, wallets.WALLETS)
}
FORMAT_NAMES = tuple(FORMATS)

__all__ = ["FORMATS", "FORMAT_NAMES", "BatchHeader", "ExportFormat"]
