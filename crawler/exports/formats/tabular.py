"""CSV and JSON: every identifier of a batch with its site, dates, decision, evidence digest."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any, BinaryIO

from crawler.exports.formats.base import BatchHeader, ExportFormat
from crawler.exports.identifiers import Identifier, iso

CSV_COLUMNS = ("type", "value", "site", "first_seen", "last_seen", "decision_ref",
               "decision_date", "reviewers", "evidence_sha256")


def _everything(_identifier: Identifier) -> bool:
    return True


def write_csv(identifiers: Sequence[Identifier], _header: BatchHeader, out: BinaryIO) -> None:
    """One row per identifier; several sites, reviewers or digests are separated by spaces."""
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for item in identifiers:
        writer.writerow((item.type, item.value, " ".join(item.sites), iso(item.first_seen),
                         iso(item.last_seen), item.decision_ref, item.decision_date,
                         " ".join(item.reviewers), " ".join(item.evidence_sha256)))
    text.detach()


def identifier_json(item: Identifier) -> dict[str, Any]:
    return {
        "type": item.type,
        "value": item.value,
        "sites": item.sites,
        "first_seen": iso(item.first_seen) or None,
        "last_seen": iso(item.last_seen) or None,
        "decision": {"ref": item.decision_ref, "reviews": item.reviews,
                     "date": item.decision_date or None},
        "reviewers": item.reviewers,
        "evidence_sha256": item.evidence_sha256,
    }


def write_json(identifiers: Sequence[Identifier], header: BatchHeader, out: BinaryIO) -> None:
    document = {
        "format": "trawler-export/1",
        "batch": header.number,
        "created_at": iso(header.created_at),
        "created_by": header.created_by,
        "items": [identifier_json(item) for item in identifiers],
    }
    out.write(json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8") + b"\n")


CSV = ExportFormat("csv", "csv", "text/csv; charset=utf-8",
                   "every identifier, one row each", _everything, write_csv)
JSON = ExportFormat("json", "json", "application/json",
                    "every identifier, as a JSON document", _everything, write_json)
