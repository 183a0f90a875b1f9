"""Forum posts in the database: written with their page, and read back as flagged threads."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from crawler.items import PageItem
from crawler.store.models import Page, Post, Site


async def save_posts(session: AsyncSession, items: Sequence[PageItem]) -> None:
    """Replace the posts of each stored thread page (call after ``save_pages``)."""
    for item in items:
        forum = item.forum
        if item.page_id is None or forum is None or not forum.posts:
            continue
        await session.execute(delete(Post).where(Post.page_id == item.page_id))
        for post in forum.posts:
            session.add(Post(
                page_id=item.page_id, engine=forum.engine,
                thread_url=forum.thread_url or item.url, thread_title=forum.thread_title,
                position=post.position, post_key=post.key, author=post.author,
                posted_at=post.posted_at, text=post.text, label=post.label, score=post.score,
                reasons=post.reasons, flagged=post.flagged))


def post_summary(post: Post, page_url: str) -> dict[str, Any]:
    """The JSON shape of a post: the evidence for a flagged thread."""
    return {"page": page_url, "position": post.position, "post": post.post_key,
            "author": post.author, "posted_at": post.posted_at, "text": post.text,
            "label": post.label, "score": post.score, "reasons": post.reasons,
            "flagged": post.flagged}


async def flagged_threads(session: AsyncSession, site: str | None = None) -> list[dict[str, Any]]:
    """Threads with at least one selling post: site, thread URL, title and the flagged posts."""
    query = (select(Post, Page.url, Site.name).join(Page, Page.id == Post.page_id)
             .join(Site, Site.id == Page.site_id).where(Post.flagged.is_(True))
             .order_by(Site.name, Post.thread_url, Page.url, Post.position))
    if site is not None:
        query = query.where(Site.name == site)
    threads: dict[str, dict[str, Any]] = {}
    for post, page_url, site_name in (await session.execute(query)).all():
        thread = threads.setdefault(post.thread_url, {
            "site": site_name, "thread": post.thread_url, "title": post.thread_title,
            "engine": post.engine, "posts": []})
        thread["posts"].append(post_summary(post, page_url))
    return list(threads.values())
