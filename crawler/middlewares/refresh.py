"""Meta refresh redirects, with a byte check first.

Scrapy's ``MetaRefreshMiddleware`` decodes a whole page to look for a refresh tag among its
first 4,096 characters; nearly no page has one, and the crawl process would decode every body
only to find that out (the analysis workers decode it again anyway). A page that lacks the
bytes "refresh" where those characters can be skips that; any other goes to Scrapy's code.
"""

from __future__ import annotations

from scrapy import Request
from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware as ScrapyMetaRefresh
from scrapy.http import Response

# 4,096 characters take at most 4 bytes each in any encoding that keeps ASCII as bytes.
_HEAD_BYTES = 4 * 4096
_WIDE = (b"\xff\xfe", b"\xfe\xff")  # UTF-16/32 byte order marks: ASCII is not bytes there


def may_refresh(response: Response) -> bool:
    """Whether a page can hold a meta refresh tag (False only when it surely cannot)."""
    body = response.body
    if body.startswith(_WIDE) or b"\x00" in body[:64]:
        return True
    content_type = response.headers.get("Content-Type", b"").lower()
    if b"utf-16" in content_type or b"utf-32" in content_type:
        return True
    return b"refresh" in body[:_HEAD_BYTES].lower()


class MetaRefreshMiddleware(ScrapyMetaRefresh):
    def process_response(self, request: Request, response: Response) -> Request | Response:
        if not may_refresh(response):
            return response
        return super().process_response(request, response)
