"""Review decisions: reasons, four-eyes in the server and in the database, custody, the
`trawler review`, `trawler users add` and `trawler labels export` commands."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from crawler.cli import review as review_cli
from crawler.evidence.custody import verify_chain
from crawler.review.accounts import check_password
from crawler.review.decisions import DecisionError, decide, site_for_decision
from crawler.store import open_database
from crawler.store.models import CustodyEvent, Review, Site, User
from tests.review_fixtures import PASSWORD, ReviewData, make_review_db

SHOP = "shop-minsk.example"


@pytest.fixture
async def data(tmp_path: Path) -> ReviewData:
    return await make_review_db(tmp_path)


@pytest.fixture
def cli_data(tmp_path: Path) -> ReviewData:
    """For the command tests, which run their own event loop as the commands do."""
    return asyncio.run(make_review_db(tmp_path))


async def _decide(data: ReviewData, user: str, decision: str, reason: str,
                  four_eyes: bool = True, site: str = SHOP):
    db = await open_database(data.db_url)
    try:
        async with db.session() as session, session.begin():
            row = await site_for_decision(session, site)
            reviewer = await session.scalar(select(User).where(User.name == user))
            return await decide(session, row, reviewer, decision, reason, None, four_eyes)
    finally:
        await db.close()


async def _site(data: ReviewData, name: str = SHOP) -> Site:
    db = await open_database(data.db_url)
    try:
        async with db.session() as session:
            return await session.scalar(select(Site).where(Site.name == name))
    finally:
        await db.close()


async def test_four_eyes_needs_two_different_reviewers(data: ReviewData) -> None:
    first = await _decide(data, "alice", "approve", "sells-drugs")
    assert (first.status, first.approvals, first.approvals_needed) == ("unreviewed", 1, 2)
    assert (await _site(data)).status == "unreviewed"

    with pytest.raises(DecisionError, match="already approved"):
        await _decide(data, "alice", "approve", "sells-drugs")

    second = await _decide(data, "bob", "approve", "dead-drop-shop")
    assert (second.status, second.approvals) == ("approved", 2)
    assert (await _site(data)).status == "approved"


async def test_without_four_eyes_one_approval_is_enough(data: ReviewData) -> None:
    outcome = await _decide(data, "alice", "approve", "sells-drugs", four_eyes=False)
    assert outcome.status == "approved"
    with pytest.raises(DecisionError, match="already approved"):
        await _decide(data, "bob", "approve", "sells-drugs", four_eyes=False)


async def test_reject_closes_the_round_so_the_same_reviewer_may_approve_again(
        data: ReviewData) -> None:
    await _decide(data, "alice", "approve", "sells-drugs")
    rejected = await _decide(data, "bob", "reject", "harm-reduction")
    assert rejected.status == "rejected"
    again = await _decide(data, "alice", "approve", "sells-drugs")
    assert (again.status, again.approvals) == ("rejected", 1)
    final = await _decide(data, "bob", "approve", "sells-drugs")
    assert final.status == "approved"


async def test_database_refuses_a_second_approval_by_the_same_reviewer(data: ReviewData) -> None:
    await _decide(data, "alice", "approve", "sells-drugs")
    db = await open_database(data.db_url)
    try:
        with pytest.raises(IntegrityError):
            async with db.session() as session, session.begin():
                session.add(Review(site_id=data.sites[SHOP], decision="approve",
                                   reason="sells-drugs", user="alice", approval_round=0))
        async with db.session() as session, session.begin():  # a reject is not limited
            session.add(Review(site_id=data.sites[SHOP], decision="reject",
                               reason="misclassified", user="alice", approval_round=0))
    finally:
        await db.close()


@pytest.mark.parametrize(("user", "decision", "reason", "message"), [
    ("olga", "approve", "sells-drugs", "only reviewers and admins"),
    ("alice", "approve", "harm-reduction", "does not fit approve"),
    ("alice", "block", "sells-drugs", "unknown decision"),
])
async def test_refused_decisions_say_why(data: ReviewData, user: str, decision: str,
                                         reason: str, message: str) -> None:
    with pytest.raises(DecisionError, match=message):
        await _decide(data, user, decision, reason)


async def test_each_decision_is_a_custody_event_and_the_chain_holds(data: ReviewData) -> None:
    await _decide(data, "alice", "approve", "sells-drugs")
    await _decide(data, "bob", "need-more", "language")
    db = await open_database(data.db_url)
    try:
        async with db.session() as session:
            events = (await session.scalars(select(CustodyEvent).where(
                CustodyEvent.action == "reviewed").order_by(CustodyEvent.id))).all()
            assert [(e.actor, e.object_id, e.detail["decision"]) for e in events] == [
                ("alice", SHOP, "approve"), ("bob", SHOP, "need-more")]
            assert events[1].detail["status"] == "need-more"
            assert await verify_chain(session) is None
    finally:
        await db.close()


def _trawler(data: ReviewData, command: str, *args: str, stdin: str | None = None):
    """Run one of this module's commands alone, so other families' imports cannot interfere."""
    group = {"review": review_cli.review, "users": review_cli.users,
             "labels": review_cli.labels}[command]
    return CliRunner().invoke(group, [*args, "--db", data.db_url], input=stdin)


def test_review_command_applies_the_same_rules(cli_data: ReviewData) -> None:
    data = cli_data
    ok = _trawler(data, "review", SHOP, "--approve", "--reason", "sells-drugs", "--user", "alice",
                  "--note", "shop with price list")
    assert ok.exit_code == 0, ok.output
    refused = _trawler(data, "review", SHOP, "--approve", "--reason", "sells-drugs",
                       "--user", "alice")
    assert refused.exit_code == 2 and "already approved" in refused.output
    bad_reason = _trawler(data, "review", "gomel-klad.example", "--reject", "--reason", "nope",
                          "--user", "bob")
    assert bad_reason.exit_code == 2 and "harm-reduction" in bad_reason.output
    unknown = _trawler(data, "review", "nowhere.example", "--reject", "--reason", "misclassified",
                       "--user", "bob")
    assert unknown.exit_code == 2 and "no site" in unknown.output
    by_id = _trawler(data, "review", str(data.sites["gomel-klad.example"]), "--reject",
                     "--reason", "misclassified", "--user", "bob")
    assert by_id.exit_code == 0 and "rejected" in by_id.output
    reviews = asyncio.run(_reviews(data))
    assert [(r.user, r.decision, r.note) for r in reviews] == [
        ("alice", "approve", "shop with price list"), ("bob", "reject", None)]


async def _reviews(data: ReviewData) -> list[Review]:
    db = await open_database(data.db_url)
    try:
        async with db.session() as session:
            return list((await session.scalars(select(Review).order_by(Review.id))).all())
    finally:
        await db.close()


def test_users_add_hashes_the_password_from_stdin(cli_data: ReviewData) -> None:
    data = cli_data
    added = _trawler(data, "users", "add", "vera", "--role", "reviewer", "--password-stdin",
                     stdin="a long enough secret\n")
    assert added.exit_code == 0, added.output
    assert _trawler(data, "users", "add", "vera", "--role", "admin", "--password-stdin",
                    stdin="a long enough secret\n").exit_code == 2
    short = _trawler(data, "users", "add", "ivan", "--role", "reviewer", "--password-stdin",
                     stdin="short\n")
    assert short.exit_code == 2 and "at least 10" in short.output
    asyncio.run(_check_vera(data))


async def _check_vera(data: ReviewData) -> None:
    db = await open_database(data.db_url)
    try:
        async with db.session() as session:
            vera = await session.scalar(select(User).where(User.name == "vera"))
            assert vera.role == "reviewer" and vera.password_hash.startswith("$argon2")
            assert await check_password(session, "vera", "a long enough secret") is not None
            assert await check_password(session, "vera", "wrong") is None
    finally:
        await db.close()


def test_labels_export_writes_corpus_lines(cli_data: ReviewData, tmp_path: Path) -> None:
    data = cli_data
    for user, decision, reason, site in [
            ("alice", "approve", "sells-drugs", SHOP),
            ("bob", "reject", "harm-reduction", "harm-help.example"),
            ("bob", "need-more", "language", "gomel-klad.example")]:
        assert _trawler(data, "review", site, f"--{decision}", "--reason", reason,
                        "--user", user).exit_code == 0
    out = tmp_path / "labels.jsonl"
    result = _trawler(data, "labels", "export", "--out", str(out))
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert {(d["group"], d["label"]) for d in lines} == {
        ("review:shop-minsk.example", "drugs"), ("review:harm-help.example", "benign")}
    assert len(lines) == 3 and all(d["source"] == "review" for d in lines)
    shop = next(d for d in lines if d["url"] == "http://shop-minsk.example/")
    assert "Закладки" in shop["text"] and shop["lang"] == "ru"
    assert shop["meta"]["reviewers"] == ["alice"] and shop["meta"]["reason"] == "sells-drugs"
    harm = next(d for d in lines if d["label"] == "benign")
    assert harm["kind"] == "harm-reduction"
    assert set(shop) >= {"id", "source", "url", "lang", "label", "kind", "group", "text", "meta"}


async def test_password_checks_are_not_fooled(data: ReviewData) -> None:
    db = await open_database(data.db_url)
    try:
        async with db.session() as session:
            assert await check_password(session, "alice", PASSWORD) is not None
            assert await check_password(session, "nobody", PASSWORD) is None
    finally:
        await db.close()
