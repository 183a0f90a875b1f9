"""The shape every export format shares: a header for the batch and a writer."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO

from crawler.exports.identifiers import Identifier


@dataclass(frozen=True)
class BatchHeader:
    """What a writer may say about the batch it writes."""

    number: int
    format: str
    created_at: datetime
    created_by: str
    decision_org: str = "trawler review"
    rpz_origin: str = "rpz.trawler."


@dataclass(frozen=True)
class ExportFormat:
    """A format by name: which identifiers it carries and how it writes them."""

    name: str
    extension: str
    media_type: str
    description: str
    carries: Callable[[Identifier], bool]
    write: Callable[[Sequence[Identifier], BatchHeader, BinaryIO], None]
