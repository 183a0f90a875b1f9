"""Queries shared by the pipelines, the command line and the web app (one code path each)."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import case, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crawler.items import PageItem
from crawler.store.models import Entity, Page, PageEntity, Site, Verdict

MAX_TEXT_CHARS = 500_000  # the full body is in the WARC; the database keeps what is read


def url_hash(url: str) -> str:
    return hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest()


async def site_ids(session: AsyncSession, names: Iterable[str]) -> dict[str, int]:
    """Ids for site names, creating the sites that are new."""
    names = set(names)
    found = dict((await session.execute(
        select(Site.name, Site.id).where(Site.name.in_(names)))).all())
    for name in names - found.keys():
        site = Site(name=name, is_onion=name.endswith(".onion"))
        session.add(site)
        await session.flush()
        found[name] = site.id
    return found


def _page_row(item: PageItem, site_id: int, job_id: int | None) -> dict[str, Any]:
    extracted = item.extracted
    return {
        "url": item.url, "site_id": site_id, "job_id": job_id, "status": item.status,
        "error": item.error, "content_type": item.content_type, "headers": item.headers,
        "size": len(item.body), "truncated": item.truncated,
        "content_sha256": hashlib.sha256(item.body).hexdigest() if item.status else None,
        "title": extracted.title[:2000] if extracted else None,
        "text": extracted.text[:MAX_TEXT_CHARS] if extracted else None,
        "lang": extracted.lang if extracted else None,
        "encoding": extracted.encoding if extracted else None,
        "depth": item.depth, "route": item.route, "ip_address": item.ip_address,
        "fetched_at": item.fetched_at,
    }


async def _write(session: AsyncSession, model: type[Page] | type[Verdict], key: str,
                 rows: dict[Any, dict[str, Any]]) -> dict[Any, int]:
    """Rows by their unique ``key`` value: the new ones inserted, the others updated, one
    executemany statement each (not an ORM object per row). Returns every key's row id."""
    column = getattr(model, key)
    ids: dict[Any, int] = dict((await session.execute(
        select(column, model.id).where(column.in_(rows)))).all())
    updated = [{"id": ids[value], **row} for value, row in rows.items() if value in ids]
    inserted = [{key: value, **row} for value, row in rows.items() if value not in ids]
    if updated:
        await session.execute(update(model), updated)
    if inserted:
        ids.update((await session.execute(
            insert(model).returning(column, model.id, sort_by_parameter_order=True),
            inserted)).all())
    return ids


async def save_pages(session: AsyncSession, items: Sequence[PageItem],
                     job_id: int | None) -> list[int]:
    """Insert or update the pages (with verdicts and entities); returns their ids in order.

    Two items of a batch can be one page (a redirect to a page also fetched): the last wins.
    """
    ids = await site_ids(session, (item.site for item in items))
    hashes = [url_hash(item.url) for item in items]
    page_ids = await _write(session, Page, "url_hash", {
        digest: _page_row(item, ids[item.site], job_id)
        for item, digest in zip(items, hashes, strict=True)})
    for item, digest in zip(items, hashes, strict=True):
        item.page_id, item.site_id = page_ids[digest], ids[item.site]

    now = datetime.now(UTC)
    verdicts = {item.page_id: {
        "label": item.verdict.label, "score": item.verdict.score,
        "threshold": item.verdict.threshold, "model_version": item.verdict.model_version,
        "reasons": item.verdict.reasons, "created_at": now,
    } for item in items if item.verdict is not None}
    if verdicts:
        await _write(session, Verdict, "page_id", verdicts)
    await save_entities(session, [(item.page_id, item.entities) for item in items])
    await refresh_sites(session, set(ids.values()))
    return [item.page_id for item in items]


async def save_entities(session: AsyncSession,
                        found: Sequence[tuple[int | None, Sequence[Any]]]) -> None:
    """Store entities (objects with kind, value, valid, context, detail) seen on pages.

    A page links each entity once, with the context of its first sighting on that page (a page
    seen again gets the context of its latest fetch). A few queries per batch, whatever its size.
    """
    first: dict[tuple[str, str], Any] = {}
    for _, entities in found:
        for e in entities:
            first.setdefault((e.kind, e.value), e)
    if not first:
        return
    known: dict[tuple[str, str], int] = {}
    for kind in {k for k, _ in first}:
        values = [v for k, v in first if k == kind]
        rows = await session.execute(
            select(Entity.value, Entity.id).where(Entity.kind == kind, Entity.value.in_(values)))
        known.update({(kind, value): id_ for value, id_ in rows})
    new = [Entity(kind=e.kind, value=e.value, valid=e.valid,
                  detail=dict(getattr(e, "detail", None) or {}))
           for key, e in first.items() if key not in known]
    if new:
        session.add_all(new)
        await session.flush()
        known.update({(row.kind, row.value): row.id for row in new})
    page_ids = {page_id for page_id, entities in found if page_id is not None and entities}
    links = {(row.page_id, row.entity_id): row for row in (await session.scalars(
        select(PageEntity).where(PageEntity.page_id.in_(page_ids)))).all()}
    for page_id, entities in found:
        if page_id is None:
            continue
        linked: set[int] = set()
        for e in entities:
            entity_id = known[(e.kind, e.value)]
            if entity_id in linked:
                continue
            linked.add(entity_id)
            context = getattr(e, "context", None)
            row = links.get((page_id, entity_id))
            if row is None:
                row = links[(page_id, entity_id)] = PageEntity(
                    page_id=page_id, entity_id=entity_id, context=context)
                session.add(row)
            else:
                row.context = context


REASON_PAGES = 50  # a site's reasons sum those of its strongest flagged pages


def _site_reasons(page_reasons: list[list[dict[str, Any]]], limit: int = 8) -> list[dict[str, Any]]:
    """Top reasons across a site's flagged pages: summed weights per (feature, term)."""
    total: Counter[tuple[str, str | None]] = Counter()
    for reasons in page_reasons:
        for reason in reasons or []:
            weight = float(reason.get("weight", 0))
            if weight > 0:
                total[(reason.get("feature", ""), reason.get("term"))] += weight
    return [{"feature": f, "term": t, "weight": round(w, 4)}
            for (f, t), w in total.most_common(limit)]


async def refresh_sites(session: AsyncSession, ids: Iterable[int]) -> None:
    """Derive each site's score, flag, counts, language and reasons from its pages' verdicts.

    Called after every stored batch, so the database does the counting: a site's verdict needs
    its ``TOP_K`` strongest scores and how many of its pages scored below the threshold
    (``classifiers.site.site_verdict``), never all its rows, and its reasons are those of its
    ``REASON_PAGES`` strongest flagged pages.
    """
    from classifiers.site import TOP_K, site_verdict

    for site_id in set(ids):
        site = await session.get(Site, site_id)
        if site is None:
            continue
        of_site = Page.site_id == site_id
        site.pages_count = await session.scalar(
            select(func.count()).select_from(Page).where(of_site)) or 0
        site.last_seen = datetime.now(UTC)
        # The threshold of the site's first scored page (one model scores a crawl).
        threshold = (select(Verdict.threshold).join(Page, Page.id == Verdict.page_id)
                     .where(of_site).order_by(Page.id).limit(1).scalar_subquery())
        scored, flagged, benign, cut = (await session.execute(
            select(func.count(), _count_where(Verdict.label == "drugs"),
                   _count_where(Verdict.score < threshold), threshold)
            .join(Page, Page.id == Verdict.page_id).where(of_site))).one()
        if not scored:
            continue
        top = await session.scalars(
            select(Verdict.score).join(Page, Page.id == Verdict.page_id).where(of_site)
            .order_by(Verdict.score.desc()).limit(TOP_K))
        site.score, site.flagged = site_verdict(list(top), benign, cut)
        site.flagged_pages = flagged
        # The most frequent language among scored pages; a tie goes to the one seen first.
        site.lang = await session.scalar(
            select(Page.lang).join(Verdict, Verdict.page_id == Page.id)
            .where(of_site, Page.lang.is_not(None), Page.lang != "")
            .group_by(Page.lang).order_by(func.count().desc(), func.min(Page.id)).limit(1))
        strongest = await session.scalars(
            select(Verdict.reasons).join(Page, Page.id == Verdict.page_id)
            .where(of_site, Verdict.label == "drugs")
            .order_by(Verdict.score.desc(), Verdict.page_id).limit(REASON_PAGES))
        site.reasons = _site_reasons(list(strongest))


def _count_where(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def site_summary(site: Site) -> dict[str, Any]:
    """The JSON shape of a site, shared by ``trawler sites --json`` and ``/sites.json``."""
    return {
        "id": site.id,
        "site": site.name,
        "flagged": site.flagged,
        "score": round(site.score, 4),
        "pages": site.pages_count,
        "flagged_pages": site.flagged_pages,
        "status": site.status,
        "lang": site.lang,
        "onion": site.is_onion,
        "reasons": site.reasons,
        "first_seen": site.first_seen.isoformat() if site.first_seen else None,
        "last_seen": site.last_seen.isoformat() if site.last_seen else None,
    }


async def list_sites(session: AsyncSession, flagged_only: bool = False) -> list[Site]:
    query = select(Site).order_by(Site.flagged.desc(), Site.score.desc(), Site.name)
    if flagged_only:
        query = query.where(Site.flagged.is_(True))
    return list((await session.scalars(query)).all())
