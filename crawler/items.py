"""The item that travels from the spider through the pipelines: one fetched (or failed) page."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from crawler.extract import Extracted


@dataclass
class PageItem:
    url: str
    site: str
    depth: int = 0
    status: int | None = None
    error: str | None = None
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    request_headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    truncated: bool = False
    route: str = "direct"
    ip_address: str | None = None
    fetched_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    extracted: Extracted | None = None
    verdict: Any = None  # classifiers.PageVerdict, set by the classify pipeline
    entities: list[Any] = field(default_factory=list)  # set by the entity pipeline
    frontier_url: str | None = None  # the URL as the job scheduled it (before redirects)
    forum: Any = None  # crawler.forums.ForumPage on forum thread pages, with its posts
    page_id: int | None = None  # set by the store pipeline
    site_id: int | None = None
