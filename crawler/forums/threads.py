"""Which thread a forum URL belongs to: its first page's URL (no trailing slash), one per thread.

Pagination is written differently by each engine (``&start=20``, ``topic=7.20``, ``/page-2``,
``/page/2/``, ``/t/slug/7/15``); all of them map back to the first page.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Query parameters that only page through a thread or carry a session.
_PAGING_PARAMS = {"start", "page", "st", "pg", "offset", "sid", "s", "pagenumber"}
_PAGE_SUFFIX = re.compile(r"/page[-/]?\d+/?$")  # XenForo /page-2, IPB /page/2/, vBulletin /page2
_DISCOURSE_POST = re.compile(r"^(/t/[^/]+/\d+)/\d+/?$")  # /t/slug/7/15 -> /t/slug/7
_SMF_TOPIC = re.compile(r"^(\d+)\.\d+$")  # SMF topic=7.20 -> 7.0


def thread_url(url: str) -> str:
    parts = urlsplit(url)
    path = _DISCOURSE_POST.sub(r"\1", _PAGE_SUFFIX.sub("", parts.path))
    query = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key.lower() in _PAGING_PARAMS:
            continue
        if key == "topic" and (match := _SMF_TOPIC.match(value)):
            value = f"{match.group(1)}.0"
        query.append((key, value))
    return urlunsplit((parts.scheme, parts.netloc.lower(), path.rstrip("/") or "/",
                       urlencode(sorted(query)), ""))
