"""Evidence: WARC captures, screenshots, the custody log, verification and bundles."""

from crawler.evidence.archive import read_response_body, read_screenshot

__all__ = ["read_response_body", "read_screenshot"]
