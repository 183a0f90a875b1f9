"""Reading fetched pages: decoding, visible text, language, links, site names (and entities)."""

from crawler.extract.html import Extracted, extract_html, extract_page, is_html
from crawler.extract.sites import is_onion, site_of_url

__all__ = ["Extracted", "extract_html", "extract_page", "is_html", "is_onion", "site_of_url"]
