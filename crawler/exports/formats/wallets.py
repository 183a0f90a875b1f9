"""The payment identifiers of approved sites, as a CSV for the request to payment providers."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import BinaryIO

from crawler.exports.formats.base import BatchHeader, ExportFormat
from crawler.exports.identifiers import PAYMENT_KINDS, Identifier, iso

WALLET_COLUMNS = ("type", "value", "validated", "sites", "first_seen")


def is_payment(identifier: Identifier) -> bool:
    return identifier.type in PAYMENT_KINDS


def write_wallets(identifiers: Sequence[Identifier], _header: BatchHeader, out: BinaryIO) -> None:
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(WALLET_COLUMNS)
    for item in identifiers:
        writer.writerow((item.type, item.value, "yes" if item.validated else "no",
                         " ".join(item.sites), iso(item.first_seen)))
    text.detach()


WALLETS = ExportFormat("wallets", "csv", "text/csv; charset=utf-8",
                       "payment identifiers (e-wallets, crypto addresses, cards) for payment "
                       "providers", is_payment, write_wallets)
