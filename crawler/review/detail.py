"""The site and page views' one query each, shared by the HTML pages and their JSON twins."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crawler.review.decisions import reason_text, round_approvers
from crawler.review.highlight import reason_terms
from crawler.store.models import CustodyEvent, Entity, Page, PageEntity, Review, Site, Verdict
from crawler.store.queries import site_summary

PAGES_SHOWN = 50
EXCERPT_CHARS = 1500
PAGE_TEXT_CHARS = 200_000
RELATED_SHOWN = 100
CUSTODY_SHOWN = 200


def _iso(moment: Any) -> str | None:
    return moment.isoformat() if moment is not None else None


def verdict_dict(verdict: Verdict | None) -> dict[str, Any] | None:
    if verdict is None:
        return None
    return {"label": verdict.label, "score": round(verdict.score, 4),
            "threshold": verdict.threshold, "model_version": verdict.model_version,
            "reasons": verdict.reasons}


def page_dict(page: Page, verdict: Verdict | None, text_chars: int) -> dict[str, Any]:
    text = page.text or ""
    return {
        "id": page.id, "url": page.url, "title": page.title, "status": page.status,
        "error": page.error, "lang": page.lang, "depth": page.depth, "route": page.route,
        "content_type": page.content_type, "content_sha256": page.content_sha256,
        "size": page.size, "truncated": page.truncated, "fetched_at": _iso(page.fetched_at),
        "job_id": page.job_id, "verdict": verdict_dict(verdict),
        "terms": reason_terms(verdict.reasons if verdict else None),
        "terms_against": reason_terms(verdict.reasons if verdict else None, against=True),
        "text": text[:text_chars], "text_cut": len(text) > text_chars,
    }


def review_dict(review: Review) -> dict[str, Any]:
    return {"id": review.id, "decision": review.decision, "reason": review.reason,
            "reason_text": reason_text(review.decision, review.reason), "note": review.note,
            "user": review.user, "round": review.approval_round,
            "created_at": _iso(review.created_at)}


def entity_dict(entity: Entity, pages: int, context: str | None) -> dict[str, Any]:
    return {"id": entity.id, "kind": entity.kind, "value": entity.value, "valid": entity.valid,
            "detail": entity.detail, "pages": pages, "context": context}


async def _entities(session: AsyncSession, site_id: int) -> list[dict[str, Any]]:
    rows = (await session.execute(
        select(Entity, func.count(PageEntity.page_id), func.min(PageEntity.context))
        .join(PageEntity, PageEntity.entity_id == Entity.id)
        .join(Page, Page.id == PageEntity.page_id)
        .where(Page.site_id == site_id)
        .group_by(Entity.id).order_by(Entity.kind, Entity.value))).all()
    return [entity_dict(entity, pages, context) for entity, pages, context in rows]


async def _related_sites(session: AsyncSession, site_id: int,
                         entity_ids: list[int]) -> list[dict[str, Any]]:
    """Other sites on whose pages one of this site's identifiers also appears."""
    if not entity_ids:
        return []
    rows = (await session.execute(
        select(Site.id, Site.name, Site.status, Site.score, Entity.kind, Entity.value)
        .join(Page, Page.site_id == Site.id)
        .join(PageEntity, PageEntity.page_id == Page.id)
        .join(Entity, Entity.id == PageEntity.entity_id)
        .where(PageEntity.entity_id.in_(entity_ids), Site.id != site_id)
        .distinct().order_by(Site.score.desc(), Site.id, Entity.kind, Entity.value)
        .limit(RELATED_SHOWN))).all()
    return [{"id": id_, "site": name, "status": status, "score": round(score, 4),
             "kind": kind, "value": value} for id_, name, status, score, kind, value in rows]


async def _custody(session: AsyncSession, site: Site,
                   pages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    page_refs = [str(p["id"]) for p in pages] + [p["url"] for p in pages]
    rows = (await session.scalars(
        select(CustodyEvent).where(or_(
            (CustodyEvent.object_type == "site")
            & CustodyEvent.object_id.in_([site.name, str(site.id)]),
            (CustodyEvent.object_type == "page") & CustodyEvent.object_id.in_(page_refs)))
        .order_by(CustodyEvent.id.desc()).limit(CUSTODY_SHOWN))).all()
    return [{"id": e.id, "action": e.action, "actor": e.actor, "object_type": e.object_type,
             "object_id": e.object_id, "detail": e.detail, "created_at": _iso(e.created_at),
             "hash": e.hash} for e in rows]


async def site_detail(session: AsyncSession, site_id: int,
                      four_eyes: bool) -> dict[str, Any] | None:
    """Everything a reviewer weighs about one site; None when there is no such site."""
    site = await session.get(Site, site_id)
    if site is None:
        return None
    rows = (await session.execute(
        select(Page, Verdict).outerjoin(Verdict, Verdict.page_id == Page.id)
        .where(Page.site_id == site_id)
        .order_by(Verdict.score.desc().nulls_last(), Page.depth, Page.id)
        .limit(PAGES_SHOWN))).all()
    pages = [page_dict(page, verdict, EXCERPT_CHARS) for page, verdict in rows]
    entities = await _entities(session, site_id)
    reviews = (await session.scalars(
        select(Review).where(Review.site_id == site_id).order_by(Review.id))).all()
    round_, approvers = await round_approvers(session, site_id)
    entry = min(rows, key=lambda row: (row[0].depth, row[0].id))[0] if rows else None
    return {
        "site": site_summary(site),
        "terms": reason_terms(site.reasons),
        "pages": pages,
        "pages_shown": len(pages),
        "entry_page": {"id": entry.id, "url": entry.url} if entry else None,
        "entities": entities,
        "related_sites": await _related_sites(session, site_id, [e["id"] for e in entities]),
        "reviews": [review_dict(r) for r in reviews],
        "four_eyes": {"on": four_eyes, "round": round_, "approvers": approvers,
                      "needed": 2 if four_eyes else 1},
        "custody": await _custody(session, site, pages),
    }


async def page_detail(session: AsyncSession, page_id: int) -> dict[str, Any] | None:
    row = (await session.execute(
        select(Page, Verdict, Site).outerjoin(Verdict, Verdict.page_id == Page.id)
        .join(Site, Site.id == Page.site_id).where(Page.id == page_id))).first()
    if row is None:
        return None
    page, verdict, site = row
    entities = (await session.execute(
        select(Entity, PageEntity.context).join(PageEntity, PageEntity.entity_id == Entity.id)
        .where(PageEntity.page_id == page_id).order_by(Entity.kind, Entity.value))).all()
    data = page_dict(page, verdict, PAGE_TEXT_CHARS)
    data["headers"] = page.headers
    data["site"] = {"id": site.id, "site": site.name, "status": site.status}
    data["entities"] = [entity_dict(entity, 1, context) for entity, context in entities]
    return data
