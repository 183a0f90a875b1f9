"""The review queue: flagged sites by score or by uncertainty, filtered, paged by keyset.

Keyset paging (``after`` = the last row's sort key and id) keeps every page as cheap as the
first, however many sites and pages are stored; sorting by score walks ``ix_sites_flagged_score``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crawler.review.decisions import APPROVE
from crawler.store.models import (
    APPROVED,
    NEED_MORE,
    REJECTED,
    UNREVIEWED,
    Entity,
    Job,
    Page,
    PageEntity,
    Review,
    Site,
    Verdict,
)

SORTS = ("score", "uncertainty")
STATES = (UNREVIEWED, APPROVED, REJECTED, NEED_MORE)
ENTITY_KINDS = ("btc", "xmr", "eth", "trc20", "ltc", "qiwi", "webmoney", "yoomoney", "card",
                "telegram", "jabber", "phone", "email", "onion")
PAGE_SIZES = (25, 50, 100, 200)
DEFAULT_THRESHOLD = 0.5


class QueueError(ValueError):
    """A queue filter that cannot be applied; the message names the parameter."""


@dataclass(frozen=True)
class QueueFilter:
    """What the reviewer asked to see; ``""`` means any."""

    sort: str = "score"
    state: str = UNREVIEWED
    lang: str = ""
    job: str = ""
    kind: str = ""
    flagged: bool = True
    limit: int = 50
    after: str = ""

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> QueueFilter:
        sort = query.get("sort", "score")
        if sort not in SORTS:
            raise QueueError(f"sort={sort!r}: use one of {', '.join(SORTS)}")
        state = query.get("state", UNREVIEWED)
        if state not in (*STATES, ""):
            raise QueueError(f"state={state!r}: use one of {', '.join(STATES)} or empty for any")
        kind = query.get("kind", "")
        if kind not in (*ENTITY_KINDS, ""):
            raise QueueError(f"kind={kind!r}: use one of {', '.join(ENTITY_KINDS)}")
        try:
            limit = int(query.get("limit", "50"))
        except ValueError:
            limit = 0
        if limit not in PAGE_SIZES:
            raise QueueError(f"limit: use one of {', '.join(map(str, PAGE_SIZES))}")
        after = query.get("after", "")
        if after:
            _parse_after(after)
        return cls(sort=sort, state=state, lang=query.get("lang", "")[:10],
                   job=query.get("job", "")[:200], kind=kind,
                   flagged=query.get("flagged", "1") != "any", limit=limit, after=after)

    def query_string(self, **changes: Any) -> str:
        """This filter as URL parameters (defaults left out), with ``changes`` applied."""
        chosen = replace(self, **changes)
        default = QueueFilter()
        params = {name: getattr(chosen, name) for name in
                  ("sort", "state", "lang", "job", "kind", "limit", "after")
                  if getattr(chosen, name) != getattr(default, name)}
        if not chosen.flagged:
            params["flagged"] = "any"
        return urlencode(params)


@dataclass(frozen=True)
class QueuePage:
    sites: list[Site]
    approvals: dict[int, int]  # site id -> approvals in its current round
    next_after: str | None


def _parse_after(after: str) -> tuple[float, int]:
    key, _, site_id = after.rpartition(":")
    try:
        return float(key), int(site_id)
    except ValueError as exc:
        raise QueueError("after: use the value from the previous page's next link") from exc


async def current_threshold(session: AsyncSession) -> float:
    """The decision threshold of the newest verdict: the line uncertainty is measured from."""
    threshold = await session.scalar(
        select(Verdict.threshold).order_by(Verdict.id.desc()).limit(1))
    return DEFAULT_THRESHOLD if threshold is None else float(threshold)


def _conditions(flt: QueueFilter, job_id: int | None) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if flt.flagged:
        conditions.append(Site.flagged.is_(True))
    if flt.state:
        conditions.append(Site.status == flt.state)
    if flt.lang:
        conditions.append(Site.lang == flt.lang)
    if flt.job:
        conditions.append(exists().where(Page.site_id == Site.id, Page.job_id == job_id))
    if flt.kind:
        conditions.append(exists().where(
            Page.site_id == Site.id, PageEntity.page_id == Page.id,
            Entity.id == PageEntity.entity_id, Entity.kind == flt.kind))
    return conditions


async def queue_page(session: AsyncSession, flt: QueueFilter) -> QueuePage:
    job_id = None
    if flt.job:
        job_id = await session.scalar(select(Job.id).where(Job.name == flt.job))
        if job_id is None:
            raise QueueError(f"job={flt.job!r}: no such job (see /jobs)")
    threshold = await current_threshold(session) if flt.sort == "uncertainty" else None
    rows = (await session.execute(queue_query(flt, job_id, threshold))).all()
    more = len(rows) > flt.limit
    rows = rows[:flt.limit]
    sites = [site for site, _ in rows]
    next_after = f"{rows[-1][1]!r}:{rows[-1][0].id}" if more else None
    return QueuePage(sites, await approvals_by_site(session, [s.id for s in sites]), next_after)


def queue_query(flt: QueueFilter, job_id: int | None, threshold: float | None) -> Select[Any]:
    """Sites with their sort key, one more than a page (to know whether another follows)."""
    conditions = _conditions(flt, job_id)
    if flt.sort == "score":
        key: ColumnElement[float] = Site.score
        order = (Site.score.desc(), Site.id.desc())
    else:
        key = func.abs(Site.score - (DEFAULT_THRESHOLD if threshold is None else threshold))
        order = (key.asc(), Site.id.asc())
    if flt.after:
        value, site_id = _parse_after(flt.after)
        if flt.sort == "score":
            conditions.append(or_(key < value, and_(key == value, Site.id < site_id)))
        else:
            conditions.append(or_(key > value, and_(key == value, Site.id > site_id)))
    return (select(Site, key.label("sort_key")).where(*conditions).order_by(*order)
            .limit(flt.limit + 1))


async def approvals_by_site(session: AsyncSession, site_ids: list[int]) -> dict[int, int]:
    """Approvals in each site's current round (what four-eyes counts)."""
    if not site_ids:
        return {}
    reviews = (await session.execute(
        select(Review.site_id, Review.decision, Review.approval_round)
        .where(Review.site_id.in_(site_ids)).order_by(Review.id))).all()
    counts: dict[int, int] = dict.fromkeys(site_ids, 0)
    for site_id, decision, _round in reviews:
        counts[site_id] = counts[site_id] + 1 if decision == APPROVE else 0
    return counts


async def next_for_reviewer(session: AsyncSession, user: str, after_site: int) -> int | None:
    """The highest-scoring flagged, unreviewed site this user has not decided on yet."""
    decided = exists().where(Review.site_id == Site.id, Review.user == user)
    return await session.scalar(
        select(Site.id).where(Site.flagged.is_(True), Site.status == UNREVIEWED,
                              Site.id != after_site, ~decided)
        .order_by(Site.score.desc(), Site.id.desc()).limit(1))


async def queue_choices(session: AsyncSession) -> dict[str, list[str]]:
    """Values offered in the queue's filter menus."""
    langs = (await session.scalars(
        select(Site.lang).where(Site.lang.is_not(None)).distinct().order_by(Site.lang))).all()
    jobs = (await session.scalars(select(Job.name).order_by(Job.id.desc()).limit(200))).all()
    return {"sorts": list(SORTS), "states": list(STATES), "langs": list(langs),
            "jobs": list(jobs), "kinds": list(ENTITY_KINDS), "limits": [str(n) for n in PAGE_SIZES]}
