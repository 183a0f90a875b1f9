"""Registry XML, modelled on the blocking registry dump: one ``<content>`` per site.

Every file is validated against ``crawler/exports/registry.xsd`` before it is written.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO

from lxml import etree

from crawler.exports.formats.base import BatchHeader, ExportFormat
from crawler.exports.identifiers import SITE_TYPES, Identifier, is_dns_name, is_ip, is_onion, iso

NAMESPACE = "urn:trawler:registry:1"
XSD_PATH = Path(__file__).resolve().parent.parent / "registry.xsd"


@lru_cache(maxsize=1)
def registry_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(XSD_PATH)))


def carried(identifier: Identifier) -> bool:
    return identifier.type in SITE_TYPES or identifier.type == "url"


def _by_site(identifiers: Sequence[Identifier]) -> dict[str, list[Identifier]]:
    """Site name -> its identifiers in this batch, the site itself (when present) first."""
    groups: dict[str, list[Identifier]] = {}
    for item in identifiers:
        groups.setdefault(item.sites[0], []).append(item)
    return {name: sorted(items, key=lambda i: i.type not in SITE_TYPES)
            for name, items in groups.items()}


def _content(site_name: str, items: list[Identifier], header: BatchHeader) -> etree._Element:
    first = items[0]
    site = first if first.type in SITE_TYPES else None
    block_type = "default" if site is None else ("ip" if site.type == "ip" else "domain")
    content = etree.Element("content", id=str(first.site_ids[0]),
                            includeTime=iso(first.approved_at or header.created_at),
                            blockType=block_type)
    decision = etree.SubElement(content, "decision",
                                date=first.decision_date or header.created_at.date().isoformat(),
                                org=header.decision_org)
    if first.decision_ref:
        decision.set("number", first.decision_ref)
    if first.reviewers:
        decision.set("reviewers", ", ".join(first.reviewers))
    for item in items:
        if item.type == "url":
            etree.SubElement(content, "url").text = etree.CDATA(item.value)
    if is_dns_name(site_name) or is_onion(site_name):
        etree.SubElement(content, "domain").text = etree.CDATA(site_name)
    addresses = ([site_name] if is_ip(site_name) else []) + (site.ips if site else [])
    for address in dict.fromkeys(a.strip("[]") for a in addresses if is_ip(a)):
        version = ipaddress.ip_address(address).version
        etree.SubElement(content, "ip" if version == 4 else "ipv6").text = address
    for digest in first.evidence_sha256:
        etree.SubElement(content, "evidence", sha256=digest)
    return content


def write_registry(identifiers: Sequence[Identifier], header: BatchHeader, out: BinaryIO) -> None:
    root = etree.Element(f"{{{NAMESPACE}}}register", nsmap={"reg": NAMESPACE},
                         updateTime=iso(header.created_at), formatVersion="1.0",
                         batch=str(header.number), createdBy=header.created_by)
    for site_name, items in _by_site(identifiers).items():
        root.append(_content(site_name, items, header))
    document = etree.ElementTree(root)
    registry_schema().assertValid(document)
    document.write(out, xml_declaration=True, encoding="UTF-8", pretty_print=True)


REGISTRY_XML = ExportFormat("registry-xml", "xml", "application/xml",
                            "registry dump XML (content, decision, url, domain, ip), with an XSD",
                            carried, write_registry)
