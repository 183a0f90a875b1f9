"""Review decisions: the reasons a reviewer may give, and the one function that applies a
decision (web and command line alike), including the four-eyes rule for approvals."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crawler.evidence.custody import record_event
from crawler.store.models import APPROVED, NEED_MORE, REJECTED, Review, Site, User

APPROVE, REJECT, NEED_MORE_DECISION = "approve", "reject", "need-more"
DECISIONS = (APPROVE, REJECT, NEED_MORE_DECISION)
REVIEWER_ROLES = ("reviewer", "admin")

# reason code -> what the reviewer reads; the code is what is stored and exported.
REASONS: dict[str, dict[str, str]] = {
    APPROVE: {
        "sells-drugs": "Sells controlled drugs",
        "sells-nps": "Sells new psychoactive substances",
        "dead-drop-shop": "Dead-drop (закладки) shop or bot",
        "market-listing": "Drug listings on a market or forum",
        "payment-for-drugs": "Takes payment for drugs (wallets, cards)",
    },
    REJECT: {
        "harm-reduction": "Harm reduction or health information",
        "news-or-research": "News, research or law enforcement",
        "legal-shop": "Legal shop (pharmacy, CBD, garden, chemistry)",
        "discussion-only": "Discussion without sales",
        "misclassified": "Not about drugs (model error)",
    },
    NEED_MORE_DECISION: {
        "unclear-content": "Content unclear; needs a closer look",
        "unreachable": "Site unreachable or pages missing",
        "language": "Needs a reader of the language",
        "legal-question": "Needs legal advice",
    },
}
_STATUS_AFTER = {REJECT: REJECTED, NEED_MORE_DECISION: NEED_MORE}


class DecisionError(ValueError):
    """A decision that the rules refuse; the message says why and what to do instead."""


@dataclass(frozen=True)
class Outcome:
    """What a decision did: the stored review, the site's new status and the approval count."""

    site: str
    review: Review
    status: str
    approvals: int
    approvals_needed: int

    @property
    def message(self) -> str:
        if self.review.decision != APPROVE:
            return f"{self.site}: {self.status}"
        if self.status == APPROVED:
            return f"{self.site}: approved ({self.approvals} of {self.approvals_needed} approvals)"
        return (f"{self.site}: approval {self.approvals} of {self.approvals_needed} recorded; "
                "a different reviewer must approve too (four-eyes)")


def reason_text(decision: str, reason: str) -> str:
    return REASONS.get(decision, {}).get(reason, reason)


def current_round(latest: Review | None) -> int:
    """Approvals gather in a round; a reject or need-more ends it and the next one starts."""
    if latest is None:
        return 0
    return latest.approval_round + (0 if latest.decision == APPROVE else 1)


async def round_approvers(session: AsyncSession, site_id: int) -> tuple[int, list[str]]:
    """The site's current round and who approved in it, oldest first."""
    latest = await session.scalar(
        select(Review).where(Review.site_id == site_id).order_by(Review.id.desc()).limit(1))
    round_ = current_round(latest)
    users = (await session.scalars(
        select(Review.user).where(Review.site_id == site_id, Review.approval_round == round_,
                                  Review.decision == APPROVE).order_by(Review.id))).all()
    return round_, list(users)


async def decide(session: AsyncSession, site: Site, user: User, decision: str, reason: str,
                 note: str | None, four_eyes: bool) -> Outcome:
    """Record ``user``'s decision on ``site`` inside the caller's transaction.

    ``site`` should have been loaded ``FOR UPDATE`` (see ``site_for_decision``) so that two
    reviewers deciding at once see each other's approvals.
    """
    if user.role not in REVIEWER_ROLES:
        raise DecisionError(f"{user.name} is an {user.role}; only reviewers and admins decide")
    if decision not in DECISIONS:
        raise DecisionError(f"unknown decision {decision!r}: choose one of {', '.join(DECISIONS)}")
    if reason not in REASONS[decision]:
        raise DecisionError(f"reason {reason!r} does not fit {decision}: choose one of "
                            f"{', '.join(REASONS[decision])}")
    note = (note or "").strip() or None
    round_, approvers = await round_approvers(session, site.id)
    needed = 2 if four_eyes else 1
    if decision == APPROVE:
        if user.name in approvers:
            raise DecisionError(f"{user.name} already approved {site.name} in this round; "
                                "four-eyes needs a second, different reviewer")
        if site.status == APPROVED:
            raise DecisionError(f"{site.name} is already approved; reject it or ask for more "
                                "to reopen it")
        approvals = len(approvers) + 1
        status = APPROVED if approvals >= needed else site.status
    else:
        approvals, status = len(approvers), _STATUS_AFTER[decision]
    review = Review(site_id=site.id, decision=decision, reason=reason, note=note,
                    user=user.name, approval_round=round_)
    session.add(review)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise DecisionError(f"{user.name} already approved {site.name} in this round; "
                            "four-eyes needs a second, different reviewer") from exc
    site.status = status
    await record_event(session, "reviewed", user.name, "site", site.name, {
        "review_id": review.id, "decision": decision, "reason": reason, "note": note,
        "round": round_, "approvals": approvals, "approvals_needed": needed, "status": status,
    })
    return Outcome(site.name, review, status, approvals, needed)


async def site_for_decision(session: AsyncSession, site_ref: str | int) -> Site:
    """The site by id or name, locked for the decision (PostgreSQL; SQLite locks on write)."""
    query = select(Site).with_for_update()
    if isinstance(site_ref, int) or str(site_ref).isdigit():
        query = query.where(Site.id == int(site_ref))
    else:
        query = query.where(Site.name == str(site_ref).strip().lower())
    site = await session.scalar(query)
    if site is None:
        raise DecisionError(f"no site {site_ref!r}: see `trawler sites` for names")
    return site
