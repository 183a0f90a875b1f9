"""Identifiers of approved sites: each site, its flagged URLs, the valid entities on its pages.

A site is approved when its ``status`` is ``approved`` (kept by the review module from the
append-only reviews). The approving decision is the run of ``approve`` reviews since the
site's last other decision; its newest review dates the approval.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crawler.exports.identifiers import (
    CONTACT_KINDS,
    PAYMENT_KINDS,
    Identifier,
    as_utc,
    domain_ascii,
    is_ip,
    site_type,
    sort_key,
    url_ascii,
)
from crawler.store.models import (
    APPROVED,
    CustodyEvent,
    Entity,
    Page,
    PageEntity,
    Review,
    Site,
    Verdict,
)

DRUGS = "drugs"


@dataclass
class Approval:
    """The reviews that made a site approved."""

    reviews: list[int]
    reviewers: list[str]
    approved_at: datetime | None


async def approvals(session: AsyncSession) -> dict[int, Approval]:
    """Approved site id -> the approving run of reviews."""
    rows = (await session.execute(
        select(Review.site_id, Review.id, Review.decision, Review.user, Review.created_at)
        .join(Site, Site.id == Review.site_id).where(Site.status == APPROVED)
        .order_by(Review.site_id, Review.created_at, Review.id))).all()
    runs: dict[int, list[tuple[int, str, datetime]]] = defaultdict(list)
    for site_id, review_id, decision, user, created_at in rows:
        if decision == "approve":
            runs[site_id].append((review_id, user, created_at))
        else:
            runs[site_id] = []
    result: dict[int, Approval] = {}
    for site_id in await session.scalars(select(Site.id).where(Site.status == APPROVED)):
        run = runs.get(site_id, [])
        reviewers: list[str] = []
        for _, user, _ in run:
            if user not in reviewers:
                reviewers.append(user)
        result[site_id] = Approval([r for r, _, _ in run], reviewers,
                                   as_utc(run[-1][2]) if run else None)
    return result


async def evidence_bundles(session: AsyncSession, sites: dict[int, Site]) -> dict[int, str]:
    """Site id -> SHA-256 of its newest evidence bundle, from ``bundled`` custody events."""
    by_key = {str(site_id): site_id for site_id in sites}
    by_key.update({site.name: site_id for site_id, site in sites.items()})
    found: dict[int, str] = {}
    events = await session.execute(
        select(CustodyEvent.object_id, CustodyEvent.detail)
        .where(CustodyEvent.action == "bundled").order_by(CustodyEvent.id))
    for object_id, detail in events:
        site_id = by_key.get(object_id)
        digest = (detail or {}).get("sha256") or (detail or {}).get("bundle_sha256")
        if site_id is not None and digest:
            found[site_id] = digest
    return found


async def approved_identifiers(session: AsyncSession,
                               approved_after: datetime | None = None) -> list[Identifier]:
    """Everything approved (or approved after a moment), merged per identifier, in file order."""
    approved = await approvals(session)
    if approved_after is not None:
        # A site approved without any review row has no date: it goes out rather than slip by.
        approved = {site_id: a for site_id, a in approved.items()
                    if a.approved_at is None or a.approved_at > approved_after}
    if not approved:
        return []
    sites = {site.id: site for site in await session.scalars(
        select(Site).where(Site.id.in_(approved)))}
    bundles = await evidence_bundles(session, sites)
    found: dict[tuple[str, str], Identifier] = {}

    def add(identifier: Identifier, site_id: int) -> None:
        site, approval = sites[site_id], approved[site_id]
        identifier.sites, identifier.site_ids = [domain_ascii(site.name)], [site_id]
        identifier.reviews, identifier.reviewers = list(approval.reviews), list(approval.reviewers)
        identifier.approved_at = approval.approved_at
        identifier.evidence_sha256 = [bundles[site_id]] if site_id in bundles else []
        if identifier.key in found:
            found[identifier.key].merge(identifier)
        else:
            found[identifier.key] = identifier

    pages = (await session.execute(
        select(Page.site_id, Page.url, Page.ip_address, Page.fetched_at,
               Verdict.label)
        .outerjoin(Verdict, Verdict.page_id == Page.id)
        .where(Page.site_id.in_(approved)).order_by(Page.id))).all()
    hosts: dict[int, list[str]] = defaultdict(list)
    ips: dict[int, list[str]] = defaultdict(list)
    flagged_urls: list[tuple[int, str, datetime | None]] = []
    for site_id, url, ip_address, fetched_at, label in pages:
        host = domain_ascii(urlsplit(url).hostname or "")
        if host and not is_ip(host) and host not in hosts[site_id]:
            hosts[site_id].append(host)
        if ip_address and ip_address not in ips[site_id]:
            ips[site_id].append(ip_address)
        if label == DRUGS:
            flagged_urls.append((site_id, url, as_utc(fetched_at)))

    for site_id, site in sites.items():
        name = domain_ascii(site.name)
        add(Identifier(type=site_type(name), value=name, first_seen=as_utc(site.first_seen),
                       last_seen=as_utc(site.last_seen),
                       hosts=[h for h in hosts[site_id] if h != name], ips=ips[site_id]),
            site_id)
    for site_id, url, fetched_at in flagged_urls:
        add(Identifier(type="url", value=url_ascii(url), first_seen=fetched_at,
                       last_seen=fetched_at), site_id)

    entities = await session.execute(
        select(Entity.kind, Entity.value, Entity.valid, Entity.first_seen, Page.site_id,
               func.min(Page.fetched_at), func.max(Page.fetched_at))
        .join(PageEntity, PageEntity.entity_id == Entity.id)
        .join(Page, Page.id == PageEntity.page_id)
        .where(Page.site_id.in_(approved), Entity.valid.is_(True),
               Entity.kind.in_((*PAYMENT_KINDS, *CONTACT_KINDS, "onion")))
        .group_by(Entity.id, Page.site_id))
    for kind, value, valid, first_stored, site_id, first_page, last_page in entities:
        if kind == "onion":
            value = domain_ascii(value)
        # Pages can be older than the entity row (re-extraction), so take the earlier time.
        first_seen = min(filter(None, (as_utc(first_stored), as_utc(first_page))), default=None)
        add(Identifier(type=kind, value=value, validated=valid, first_seen=first_seen,
                       last_seen=as_utc(last_page)), site_id)
    return sorted(found.values(), key=sort_key)
