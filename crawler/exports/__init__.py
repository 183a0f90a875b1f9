"""Exports to the blocking authority, ISPs and payment providers: formats and recorded batches."""

from crawler.exports.batches import (
    ExportError,
    ExportRequest,
    ExportResult,
    batch_json,
    configured_options,
    export_batch,
    list_batches,
    manifest_path,
)
from crawler.exports.formats import FORMAT_NAMES, FORMATS

__all__ = [
    "FORMATS",
    "FORMAT_NAMES",
    "ExportError",
    "ExportRequest",
    "ExportResult",
    "batch_json",
    "configured_options",
    "export_batch",
    "list_batches",
    "manifest_path",
]
