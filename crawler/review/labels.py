"""Reviewer decisions as labelled corpus lines (JSON Lines, the corpus format) for retraining.

Each decided site gives one line per fetched page with text: approved sites ``drugs``,
rejected sites ``benign``; sites waiting for a decision or for more information give none.
All pages of a site share one ``group`` so a site never straddles a train/test split.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crawler.store.models import APPROVED, REJECTED, Page, Review, Site, Verdict

LABEL_OF_STATUS = {APPROVED: "drugs", REJECTED: "benign"}
# The corpus `kind` a decision's reason stands for, where one fits.
KIND_OF_REASON = {
    "dead-drop-shop": "telegram-shop", "market-listing": "market-listing",
    "harm-reduction": "harm-reduction", "news-or-research": "news", "legal-shop": "ecommerce",
    "discussion-only": "forum",
}


async def _deciding_reviews(session: AsyncSession, site: Site) -> list[Review]:
    """The reviews behind the site's status: its last run of approvals, or its last review."""
    reviews = (await session.scalars(
        select(Review).where(Review.site_id == site.id).order_by(Review.id))).all()
    if not reviews:
        return []
    if reviews[-1].decision != "approve":
        return [reviews[-1]]
    run: list[Review] = []
    for review in reversed(reviews):
        if review.decision != "approve":
            break
        run.insert(0, review)
    return run


def _kind(site: Site, reason: str) -> str:
    if reason in KIND_OF_REASON:
        return KIND_OF_REASON[reason]
    return "darknet-shop" if site.is_onion else "reviewed-site"


async def label_lines(session: AsyncSession) -> AsyncIterator[dict[str, Any]]:
    sites = (await session.scalars(
        select(Site).where(Site.status.in_(LABEL_OF_STATUS)).order_by(Site.id))).all()
    for site in sites:
        reviews = await _deciding_reviews(session, site)
        if not reviews:
            continue
        last = reviews[-1]
        pages = (await session.execute(
            select(Page, Verdict).outerjoin(Verdict, Verdict.page_id == Page.id)
            .where(Page.site_id == site.id, Page.text.is_not(None), Page.text != "")
            .order_by(Page.depth, Page.id)))
        for page, verdict in pages:
            yield {
                "id": f"review:{site.name}:{page.id}",
                "source": "review",
                "url": page.url,
                "lang": page.lang or site.lang,
                "label": LABEL_OF_STATUS[site.status],
                "kind": _kind(site, last.reason),
                "group": f"review:{site.name}",
                "text": "\n\n".join(part for part in (page.title, page.text) if part),
                "meta": {
                    "site": site.name, "decision": last.decision, "reason": last.reason,
                    "reviewers": [r.user for r in reviews], "review_ids": [r.id for r in reviews],
                    "decided_at": last.created_at.isoformat(),
                    "model_label": verdict.label if verdict else None,
                    "model_score": verdict.score if verdict else None,
                },
            }
