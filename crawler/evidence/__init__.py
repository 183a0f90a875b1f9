"""Evidence: WARC captures, screenshots, the custody log, verification and bundles."""
