"""STIX 2.1: an indicator per domain, onion, IP and URL; an ``x-crypto-wallet`` per payment id.

``x-crypto-wallet`` is a custom observable (STIX 2.1 has none for wallets); readers parse it
with ``allow_custom=True`` or by importing this module, which registers it with ``stix2``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, BinaryIO

import stix2
from stix2.properties import BooleanProperty, ListProperty, StringProperty, TimestampProperty

from crawler.exports.formats.base import BatchHeader, ExportFormat
from crawler.exports.identifiers import PAYMENT_KINDS, Identifier

# A fixed identity: every trawler bundle names the same producer.
PRODUCER_ID = "identity--" + str(uuid.uuid5(uuid.NAMESPACE_URL, "urn:trawler:producer"))
PATTERN_OBJECT = {"domain": "domain-name", "onion": "domain-name", "url": "url"}
INDICATOR_TYPES = ("domain", "onion", "ip", "url")


@stix2.CustomObservable("x-crypto-wallet", [
    ("value", StringProperty(required=True)),
    ("currency", StringProperty(required=True)),
    ("validated", BooleanProperty()),
    ("sites", ListProperty(StringProperty)),
    ("first_seen", TimestampProperty()),
], id_contrib_props=["currency", "value"])
class CryptoWallet:
    """A payment identifier: crypto address, e-wallet (qiwi, webmoney, yoomoney) or card."""


def carried(identifier: Identifier) -> bool:
    return identifier.type in INDICATOR_TYPES or identifier.type in PAYMENT_KINDS


def pattern_literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def indicator_pattern(item: Identifier) -> str:
    if item.type == "ip":
        kind = "ipv6-addr" if ":" in item.value else "ipv4-addr"
    else:
        kind = PATTERN_OBJECT[item.type]
    return f"[{kind}:value = {pattern_literal(item.value)}]"


def indicator(item: Identifier, header: BatchHeader) -> stix2.Indicator:
    references: list[dict[str, Any]] = []
    if item.decision_ref:
        references.append({"source_name": header.decision_org, "external_id": item.decision_ref,
                           "description": "approving reviews by " + ", ".join(item.reviewers)})
    references += [{"source_name": "trawler evidence bundle", "hashes": {"SHA-256": digest},
                    "description": "evidence bundle of the site (WARC records, digests)"}
                   for digest in item.evidence_sha256]
    return stix2.Indicator(
        name=f"{item.type} {item.value}",
        description=f"Approved for blocking (site {', '.join(item.sites)}).",
        pattern=indicator_pattern(item),
        pattern_type="stix",
        indicator_types=["malicious-activity"],
        valid_from=item.approved_at or header.created_at,
        created_by_ref=PRODUCER_ID,
        external_references=references or None,
    )


def wallet(item: Identifier) -> CryptoWallet:
    extra = {"first_seen": item.first_seen} if item.first_seen else {}
    return CryptoWallet(value=item.value, currency=item.type, validated=bool(item.validated),
                        sites=item.sites, **extra)


def write_stix(identifiers: Sequence[Identifier], header: BatchHeader, out: BinaryIO) -> None:
    objects: list[Any] = [stix2.Identity(id=PRODUCER_ID, name="trawler", identity_class="system",
                                         created=header.created_at, modified=header.created_at)]
    for item in identifiers:
        objects.append(wallet(item) if item.type in PAYMENT_KINDS else indicator(item, header))
    bundle = stix2.Bundle(objects=objects, allow_custom=True)
    out.write(bundle.serialize(pretty=True, ensure_ascii=False).encode("utf-8") + b"\n")


STIX = ExportFormat("stix", "json", "application/stix+json;version=2.1",
                    "STIX 2.1 bundle: indicators for sites and URLs, x-crypto-wallet observables",
                    carried, write_stix)
